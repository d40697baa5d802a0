# ECS on Fargate: a service per role, laid out as the chart's values-aws.yaml:
#   api     `serve --roles api`     behind the ALB, 2-10 tasks on CPU
#   worker  `serve --roles worker`  the event consumers, 2-10 tasks on CPU,
#                                   Fargate Spot (a base of on-demand tasks)
#   relay   `serve --roles relay`   the outbox relay, a fixed 2 tasks
# and `migrate`, a task definition run once per deploy before the services
# are updated (deploy.sh). Every Croupier task has an ADOT collector sidecar:
# traces (OTLP on 127.0.0.1:4318) to X-Ray, /metrics (127.0.0.1:9464) to
# Amazon Managed Prometheus.

resource "aws_ecs_cluster" "main" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  # TLS to Aurora (whose parameter group sets rds.force_ssl = 1), as libpq
  # spells it: verified against the RDS CA bundle when the image carries it
  # (db_ca_bundle_path), otherwise encrypted but unverified (README,
  # "Encryption in transit"). No password in the URLs: that is PGPASSWORD.
  db_tls     = var.db_ca_bundle_path == "" ? "sslmode=require" : "sslmode=verify-full&sslrootcert=${var.db_ca_bundle_path}"
  writer_url = "postgres://croupier@${aws_rds_cluster.main.endpoint}:5432/croupier?${local.db_tls}"
  reader_url = "postgres://croupier@${aws_rds_cluster.main.reader_endpoint}:5432/croupier?${local.db_tls}"

  # Plain settings of every Croupier container (no secret among them).
  common_env = merge({
    AWS_REGION                        = var.region
    CROUPIER_DATABASE_URL             = local.writer_url
    CROUPIER_SHUTDOWN_GRACE_SECS      = tostring(var.shutdown_grace_seconds)
    CROUPIER_HTTP__REQUEST_TIMEOUT_MS = tostring(var.request_timeout_ms)
    CROUPIER_LOG__FORMAT              = "json"
    CROUPIER_TELEMETRY__OTLP_ENDPOINT = "http://127.0.0.1:4318/v1/traces"
    CROUPIER_TELEMETRY__SAMPLE_RATIO  = tostring(var.trace_sample_ratio)
  }, var.croupier_env)

  role_env = {
    api = {
      # Figment reads a bracketed value as a list.
      CROUPIER_DATABASE__REPLICA_URLS    = "[\"${local.reader_url}\"]"
      CROUPIER_HTTP__TRUST_FORWARDED_FOR = "true"
      CROUPIER_SHUTDOWN_DRAIN_SECS       = tostring(var.api.drain_seconds)
    }
    worker = {
      CROUPIER_DATABASE__REPLICA_URLS = "[\"${local.reader_url}\"]"
      CROUPIER_SHUTDOWN_DRAIN_SECS    = "0"
      CROUPIER_NATS__REPLICAS         = "3"
      # Over NATS the export runs where a shared URL is set: the workers.
      CROUPIER_EXPORT__URL = "s3://${aws_s3_bucket.export.id}/events"
    }
    relay = {
      CROUPIER_SHUTDOWN_DRAIN_SECS = "0"
      CROUPIER_NATS__REPLICAS      = "3"
    }
    migrate = {}
  }

  # name => "secret ARN:json key::" for ECS's secrets injection. Only what a
  # role needs: the api never talks to NATS, the relay never to Redis.
  db_password = { PGPASSWORD = "${local.db_secret_arn}:password::" }
  role_secrets = {
    api     = merge(local.db_password, { CROUPIER_REDIS_URL = "${aws_secretsmanager_secret.redis.arn}:url::" })
    worker  = merge(local.db_password, { CROUPIER_REDIS_URL = "${aws_secretsmanager_secret.redis.arn}:url::", CROUPIER_NATS_URL = "${aws_secretsmanager_secret.nats.arn}:url::" })
    relay   = merge(local.db_password, { CROUPIER_NATS_URL = "${aws_secretsmanager_secret.nats.arn}:url::" })
    migrate = local.db_password
  }

  role_command = {
    api     = ["serve", "--roles", "api"]
    worker  = ["serve", "--roles", "worker"]
    relay   = ["serve", "--roles", "relay"]
    migrate = ["migrate"]
  }

  role_size = {
    api     = { cpu = var.api.cpu, memory = var.api.memory }
    worker  = { cpu = var.worker.cpu, memory = var.worker.memory }
    relay   = { cpu = var.relay.cpu, memory = var.relay.memory }
    migrate = { cpu = 256, memory = 512 }
  }

  stop_timeout = {
    api     = local.api_stop_timeout
    worker  = local.worker_stop_timeout
    relay   = local.worker_stop_timeout
    migrate = local.worker_stop_timeout
  }

  # The ADOT collector's configuration, per role (the role becomes a label of
  # every scraped series; job="croupier" is what the alert rules expect).
  adot_config = { for role in ["api", "worker", "relay"] : role => yamlencode({
    extensions = {
      sigv4auth = { region = var.region, service = "aps" }
    }
    receivers = {
      otlp = { protocols = { http = { endpoint = "127.0.0.1:4318" } } }
      prometheus = { config = { scrape_configs = [{
        job_name        = "croupier"
        scrape_interval = "30s"
        static_configs  = [{ targets = ["127.0.0.1:9464"], labels = { role = role, environment = var.environment } }]
      }] } }
    }
    processors = {
      batch = {}
      # The task ARN and zone become labels, so that every task's series
      # stay apart (each scrapes the same 127.0.0.1:9464).
      resourcedetection = { detectors = ["env", "ecs"], timeout = "5s", override = false }
    }
    exporters = {
      awsxray = { region = var.region }
      prometheusremotewrite = {
        endpoint                         = "${aws_prometheus_workspace.main.prometheus_endpoint}api/v1/remote_write"
        auth                             = { authenticator = "sigv4auth" }
        resource_to_telemetry_conversion = { enabled = true }
      }
    }
    service = {
      extensions = ["sigv4auth"]
      pipelines = {
        traces  = { receivers = ["otlp"], processors = ["batch"], exporters = ["awsxray"] }
        metrics = { receivers = ["prometheus"], processors = ["resourcedetection", "batch"], exporters = ["prometheusremotewrite"] }
      }
    }
  }) }

  croupier_container = { for role in keys(local.role_command) : role => {
    name                   = "croupier"
    image                  = local.image
    command                = local.role_command[role]
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    stopTimeout            = local.stop_timeout[role]
    linuxParameters        = { capabilities = { drop = ["ALL"] }, initProcessEnabled = false }
    portMappings = role == "migrate" ? [] : [
      { name = "http", containerPort = 8080, protocol = "tcp" },
      { name = "metrics", containerPort = 9464, protocol = "tcp" },
    ]
    environment = [for k, v in merge(local.common_env, local.role_env[role]) : { name = k, value = v }]
    secrets     = [for k, v in local.role_secrets[role] : { name = k, valueFrom = v }]
    # No shell in the image: the binary probes its own /readyz.
    healthCheck = role == "migrate" ? null : {
      command     = ["CMD", "/usr/local/bin/croupier", "healthcheck"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    dependsOn = role == "migrate" ? [] : [{ containerName = "adot", condition = "START" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.role[role].name
        awslogs-region        = var.region
        awslogs-stream-prefix = role
        # Croupier logs JSON lines (CROUPIER_LOG__FORMAT): one event each.
        mode            = "non-blocking"
        max-buffer-size = "4m"
      }
    }
  } }

  adot_container = { for role in ["api", "worker", "relay"] : role => {
    name                   = "adot"
    image                  = var.adot_image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "10001"
    environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.adot_config[role] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.adot.name
        awslogs-region        = var.region
        awslogs-stream-prefix = role
      }
    }
  } }
}

resource "aws_ecs_task_definition" "role" {
  for_each                 = local.role_command
  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.role_size[each.key].cpu
  memory                   = local.role_size[each.key].memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode(concat(
    [local.croupier_container[each.key]],
    each.key == "migrate" ? [] : [local.adot_container[each.key]],
  ))
}

# --- services ----------------------------------------------------------------------

locals {
  # Every service is defined in both regions; only the serving region runs
  # them (the standby's stay at 0 until a failover sets serving = true).
  desired = {
    api    = local.serving ? var.api.min_tasks : 0
    worker = local.serving ? var.worker.min_tasks : 0
    relay  = local.serving ? var.relay.tasks : 0
  }
  # Fargate Spot for the worker where it is allowed (x86 only), with a base
  # of on-demand tasks so that a Spot reclaim never stops every consumer.
  worker_spot = var.worker.spot && var.cpu_architecture == "X86_64"
  capacity = {
    api    = [{ provider = "FARGATE", base = 0, weight = 1 }]
    relay  = [{ provider = "FARGATE", base = 0, weight = 1 }]
    worker = local.worker_spot ? [{ provider = "FARGATE", base = var.worker.spot_on_demand_base, weight = 0 }, { provider = "FARGATE_SPOT", base = 0, weight = 1 }] : [{ provider = "FARGATE", base = 0, weight = 1 }]
  }
}

resource "aws_ecs_service" "role" {
  # The roles by name (not local.desired itself, whose counts depend on
  # serving), so that the instances' addresses never depend on the counts.
  for_each                = toset(["api", "worker", "relay"])
  name                    = each.key
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.role[each.key].arn
  desired_count           = local.desired[each.key]
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Rolling: new tasks first (200 %), never below the desired count (100 %).
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  # Fargate spreads a service's tasks over the subnets' zones.
  availability_zone_rebalancing     = "ENABLED"
  health_check_grace_period_seconds = each.key == "api" ? 60 : null

  dynamic "capacity_provider_strategy" {
    for_each = local.capacity[each.key]
    content {
      capacity_provider = capacity_provider_strategy.value.provider
      base              = capacity_provider_strategy.value.base
      weight            = capacity_provider_strategy.value.weight
    }
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [each.key == "api" ? aws_security_group.api.id : aws_security_group.worker.id]
    assign_public_ip = false
  }

  # A deployment whose tasks do not become healthy stops and rolls back.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = "croupier"
      container_port   = 8080
    }
  }

  lifecycle {
    # Autoscaling owns the count once the service exists.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener_rule.from_cloudfront, aws_ecs_cluster_capacity_providers.main]
}

# --- autoscaling: target tracking on CPU ---------------------------------------------

locals {
  scaled = {
    api    = var.api
    worker = var.worker
  }
}

resource "aws_appautoscaling_target" "role" {
  for_each           = local.scaled
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.role[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = local.serving ? each.value.min_tasks : 0
  max_capacity       = each.value.max_tasks
}

# The relay's count, held by Application Auto Scaling too (min = max), so
# that a failover (serving = true) raises it although the service ignores
# desired_count.
resource "aws_appautoscaling_target" "relay" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.role["relay"].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = local.desired["relay"]
  max_capacity       = local.desired["relay"]
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = local.scaled
  name               = "${local.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.role[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.role[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.role[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu_target
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
