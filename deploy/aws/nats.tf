# NATS JetStream: a 3-node cluster on ECS Fargate, one node per zone, each
# node's JetStream store on EFS.
#
# Why ECS + EFS rather than EC2 + EBS: no hosts, AMIs or volume-attachment
# scripts to run; the same deployment, logging and IAM as the rest of the
# stack; EFS is regional (stored across zones) and encrypted, and AWS Backup
# takes it with the database. The cost is write latency (NFS, not a local
# disk: NATS's own guidance prefers block storage), acceptable here because
# JetStream is not Croupier's system of record: every event is committed in
# PostgreSQL's outbox first, kept there outbox_retention_hours (168 h), and
# `croupier events replay` can send it again.
#
# How it fails over:
#   - A node's task dies: ECS starts a new one in the same zone (each node is
#     its own single-task service pinned to its zone's subnet), with the same
#     server name and the same EFS directory; it rejoins and catches up from
#     its peers. Deployments stop the old task before starting the new one
#     (0 %/100 %): two processes must never share a node's store.
#   - A zone is lost: its node stays down until the zone returns; the other
#     two hold the quorum of every R3 stream (CROUPIER_NATS__REPLICAS=3) and
#     keep accepting and delivering. To bring it back in another zone, point
#     its service at another subnet and apply: its store is on EFS, which
#     every zone mounts.
#   - Clients (worker, relay) connect through an internal NLB, which sends
#     them to a healthy node (/healthz?js-enabled-only=true); the servers do
#     not advertise their own addresses (no_advertise), so a reconnect goes
#     through the NLB again.

locals {
  nats_nodes     = 3
  nats_namespace = "${local.name}.internal"
  nats_host      = aws_lb.nats.dns_name
  nats_routes    = [for i in range(local.nats_nodes) : "nats-route://nats-${i}.${local.nats_namespace}:6222"]

  # Read by nats-server; $NATS_PASSWORD and $NATS_SERVER_NAME from the
  # environment (the password injected from Secrets Manager).
  nats_conf = <<-CONF
    server_name: $NATS_SERVER_NAME
    listen: 0.0.0.0:4222
    http: 0.0.0.0:8222
    max_payload: 1MB
    jetstream {
      store_dir: /data/jetstream
      max_file_store: 50GB
    }
    authorization {
      user: croupier
      password: $NATS_PASSWORD
    }
    cluster {
      name: ${local.name}
      listen: 0.0.0.0:6222
      no_advertise: true
      routes: [${join(", ", local.nats_routes)}]
    }
  CONF
}

# --- storage ---------------------------------------------------------------------------

resource "aws_efs_file_system" "nats" {
  creation_token   = "${local.name}-nats"
  encrypted        = true
  kms_key_id       = aws_kms_key.main.arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
  tags             = { Name = "${local.name}-nats" }
}

resource "aws_efs_mount_target" "nats" {
  count           = var.az_count
  file_system_id  = aws_efs_file_system.nats.id
  subnet_id       = aws_subnet.private[count.index].id
  security_groups = [aws_security_group.efs.id]
}

# A directory per node, owned by the user the server runs as.
resource "aws_efs_access_point" "nats" {
  count          = local.nats_nodes
  file_system_id = aws_efs_file_system.nats.id
  posix_user {
    uid = 1000
    gid = 1000
  }
  root_directory {
    path = "/nats-${count.index}"
    creation_info {
      owner_uid   = 1000
      owner_gid   = 1000
      permissions = "0750"
    }
  }
  tags = { Name = "${local.name}-nats-${count.index}" }
}

# Mounts only through an access point, over TLS, by the NATS task role.
data "aws_iam_policy_document" "efs" {
  statement {
    sid       = "NatsTasks"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.nats.arn]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.nats_task.arn]
    }
    condition {
      test     = "Bool"
      variable = "elasticfilesystem:AccessedViaMountTarget"
      values   = ["true"]
    }
  }
  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["*"]
    resources = [aws_efs_file_system.nats.arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_efs_file_system_policy" "nats" {
  file_system_id = aws_efs_file_system.nats.id
  policy         = data.aws_iam_policy_document.efs.json
}

# --- names -----------------------------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "main" {
  name        = local.nats_namespace
  description = "Stable names of the NATS nodes (their cluster routes)"
  vpc         = aws_vpc.main.id
}

resource "aws_service_discovery_service" "nats" {
  count = local.nats_nodes
  name  = "nats-${count.index}"
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}

# --- the client endpoint -------------------------------------------------------------

resource "aws_lb" "nats" {
  # checkov:skip=CKV_AWS_91: an NLB writes access logs for TLS listeners only; this one forwards plain TCP (see README, encryption in transit).
  # checkov:skip=CKV_AWS_150: internal and stateless; production's deletion protection guards the stores, not this.
  name                             = "${local.name}-nats"
  load_balancer_type               = "network"
  internal                         = true
  subnets                          = aws_subnet.private[*].id
  security_groups                  = [aws_security_group.nats_nlb.id]
  enable_cross_zone_load_balancing = true
}

resource "aws_lb_target_group" "nats" {
  name                 = "${local.name}-nats"
  port                 = 4222
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  preserve_client_ip   = "false"
  deregistration_delay = 30

  health_check {
    protocol            = "HTTP"
    port                = "8222"
    path                = "/healthz?js-enabled-only=true"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "nats" {
  load_balancer_arn = aws_lb.nats.arn
  port              = 4222
  protocol          = "TCP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nats.arn
  }
}

# --- the nodes ---------------------------------------------------------------------------

resource "aws_ecs_task_definition" "nats" {
  count                    = local.nats_nodes
  family                   = "${local.name}-nats-${count.index}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.nats.cpu
  memory                   = var.nats.memory
  execution_role_arn       = aws_iam_role.nats_execution.arn
  task_role_arn            = aws_iam_role.nats_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "store"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.nats.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.nats[count.index].id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([{
    name                   = "nats"
    image                  = var.nats.image
    essential              = true
    user                   = "1000:1000"
    readonlyRootFilesystem = true
    # The configuration comes in the environment; the server reads a file,
    # written to its own EFS directory (the root filesystem is read-only).
    entryPoint  = ["sh", "-c"]
    command     = ["printf '%s' \"$NATS_CONF\" > /data/nats.conf && exec nats-server -c /data/nats.conf"]
    stopTimeout = 30
    portMappings = [
      { containerPort = 4222, protocol = "tcp" },
      { containerPort = 6222, protocol = "tcp" },
      { containerPort = 8222, protocol = "tcp" },
    ]
    environment = [
      { name = "NATS_CONF", value = local.nats_conf },
      { name = "NATS_SERVER_NAME", value = "nats-${count.index}" },
    ]
    secrets     = [{ name = "NATS_PASSWORD", valueFrom = "${aws_secretsmanager_secret.nats.arn}:password::" }]
    mountPoints = [{ sourceVolume = "store", containerPath = "/data", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.nats.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "nats-${count.index}"
      }
    }
  }])
}

resource "aws_ecs_service" "nats" {
  count            = local.nats_nodes
  name             = "nats-${count.index}"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.nats[count.index].arn
  desired_count    = 1
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"
  # Stop the old task before starting the new one: one process per store.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    # Pinned to one zone each (node i in zone i mod az_count).
    subnets          = [aws_subnet.private[count.index % var.az_count].id]
    security_groups  = [aws_security_group.nats.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.nats[count.index].arn
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.nats.arn
    container_name   = "nats"
    container_port   = 4222
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_efs_mount_target.nats, aws_lb_listener.nats]
}
