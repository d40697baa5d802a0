# Logs (CloudWatch, 30 days, encrypted), alarms to an SNS topic, traces to
# X-Ray and metrics to Amazon Managed Prometheus through each task's ADOT
# sidecar (ecs.tf), where deploy/observability/alerts.yml, the same rules the
# chart loads, is evaluated and routed to the same topic.

# --- logs ----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "role" {
  for_each          = toset(["api", "worker", "relay", "migrate"])
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "adot" {
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/adot"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "nats" {
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/nats"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "redis" {
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/redis-slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/vpc-flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# --- the alarm topic ---------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "Publishers"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "aps.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- ECS: CPU above 80 % for two consecutive 5-minute periods ------------------------------

resource "aws_cloudwatch_metric_alarm" "service_cpu" {
  for_each            = merge(local.desired, { for i in range(local.nats_nodes) : "nats-${i}" => i })
  alarm_name          = "${local.name}-${each.key}-cpu-high"
  alarm_description   = "${each.key}: average CPU above 80 % for 2 x 5 min (autoscaling targets 70 %: it is not keeping up, or is at its maximum)."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = aws_ecs_cluster.main.name, ServiceName = each.key }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# --- ALB ------------------------------------------------------------------------------------

locals {
  alb_dimensions = { LoadBalancer = aws_lb.main.arn_suffix }
  tg_dimensions  = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = aws_lb_target_group.api.arn_suffix }
}

# 5xx (from the targets and from the ALB itself) above 1 % of requests, the
# availability SLO's budget burning 10x, for 2 x 5 min.
resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  alarm_name          = "${local.name}-alb-5xx-rate"
  alarm_description   = "More than 1 % of requests answered 5xx for 2 x 5 min."
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 1
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / MAX([requests, 1])"
    label       = "5xx, % of requests"
    return_data = true
  }
  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      period      = 300
      stat        = "Sum"
    }
  }
}

# p99 above the latency SLO's 100 ms for 3 x 5 min.
resource "aws_cloudwatch_metric_alarm" "target_p99" {
  alarm_name          = "${local.name}-api-p99-latency"
  alarm_description   = "The api's p99 response time above 100 ms (the latency SLO) for 3 x 5 min."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.tg_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0.1
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${local.name}-api-unhealthy-hosts"
  alarm_description   = "An api task failing /readyz for 3 minutes (a drain takes 15 s, a deploy's new task 60 s at most)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# --- Aurora ---------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "aurora_cpu" {
  alarm_name          = "${local.name}-aurora-cpu-high"
  alarm_description   = "Aurora CPU above 80 % for 2 x 5 min."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.main.cluster_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Each task opens up to database.max_connections (16): 10 api + 10 worker +
# 2 relay tasks hold at most 352; far more means leaks or runaway scaling.
resource "aws_cloudwatch_metric_alarm" "aurora_connections" {
  alarm_name          = "${local.name}-aurora-connections-high"
  alarm_description   = "Aurora connections above 500 for 2 x 5 min (the tasks at their maximum hold 352)."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.main.cluster_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 500
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Replica reads (history) tolerate a little lag; seconds of it means stale
# histories, and a failover that loses more.
resource "aws_cloudwatch_metric_alarm" "aurora_replica_lag" {
  for_each            = { for i in range(1, 1 + var.aurora.readers) : "${local.name}-${i}" => i }
  alarm_name          = "${each.key}-replica-lag"
  alarm_description   = "Aurora reader ${each.key} more than 1 s behind for 3 x 1 min."
  namespace           = "AWS/RDS"
  metric_name         = "AuroraReplicaLag"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_rds_cluster_instance.main]
}

# The region-loss RPO is the global database's replication lag at the moment
# of the failover: the standby watches its own cluster (the secondary, where
# the metric is published, in milliseconds). Above 5 s for 3 x 1 min, or no
# data at all while this region does not serve (replication stopped, or the
# metric's dimension is wrong: either way the RPO is no longer known). Once
# the standby serves its cluster is the writer and the metric goes quiet.
resource "aws_cloudwatch_metric_alarm" "aurora_global_lag" {
  count               = var.standby ? 1 : 0
  alarm_name          = "${local.name}-aurora-global-replication-lag"
  alarm_description   = "The Aurora global database's secondary (this region) more than 5 s behind the primary region for 3 x 1 min, or not reporting: a region-loss failover now would lose that much (runbook, section 6)."
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBReplicationLag"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.main.cluster_identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 5000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = local.serving ? "notBreaching" : "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# --- Redis ----------------------------------------------------------------------------------

locals {
  # ElastiCache names a replication group's nodes <id>-001, -002, ...
  redis_nodes = [for i in range(var.redis.nodes) : format("%s-%03d", local.name, i + 1)]
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each            = toset(local.redis_nodes)
  alarm_name          = "${each.key}-redis-memory-high"
  alarm_description   = "Redis node ${each.key} above 80 % of its memory for 2 x 5 min."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_elasticache_replication_group.main]
}

# Any eviction: rate-limit buckets or revocation state pushed out early.
resource "aws_cloudwatch_metric_alarm" "redis_evictions" {
  for_each            = toset(local.redis_nodes)
  alarm_name          = "${each.key}-redis-evictions"
  alarm_description   = "Redis node ${each.key} evicted keys in 2 consecutive 5-minute periods."
  namespace           = "AWS/ElastiCache"
  metric_name         = "Evictions"
  dimensions          = { CacheClusterId = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_elasticache_replication_group.main]
}

# --- a rotated database password means a redeploy -----------------------------------------

resource "aws_cloudwatch_event_rule" "db_rotated" {
  count       = local.primary ? 1 : 0
  name        = "${local.name}-db-password-rotated"
  description = "The database password was rotated: the old one no longer works and Croupier reads it at start, so force a new deployment of api, worker and relay now (runbook, section 4)."
  event_pattern = jsonencode({
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS Service Event via CloudTrail"]
    detail = {
      eventName           = ["RotationSucceeded"]
      additionalEventData = { SecretId = [aws_secretsmanager_secret.db[0].arn] }
    }
  })
}

resource "aws_cloudwatch_event_target" "db_rotated" {
  count = local.primary ? 1 : 0
  rule  = aws_cloudwatch_event_rule.db_rotated[0].name
  arn   = aws_sns_topic.alarms.arn
}

# --- Amazon Managed Prometheus ------------------------------------------------------------

resource "aws_prometheus_workspace" "main" {
  alias       = local.name
  kms_key_arn = aws_kms_key.main.arn

  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.prometheus.arn}:*"
  }
}

resource "aws_cloudwatch_log_group" "prometheus" {
  name              = "/${var.project}/${var.environment}${var.standby ? "-dr" : ""}/prometheus"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# The chart's PrometheusRule and this are the same file: one source of alerts.
resource "aws_prometheus_rule_group_namespace" "croupier" {
  name         = "croupier"
  workspace_id = aws_prometheus_workspace.main.id
  data         = file("${path.module}/../observability/alerts.yml")
}

resource "aws_prometheus_alert_manager_definition" "main" {
  workspace_id = aws_prometheus_workspace.main.id
  definition   = <<-YAML
    alertmanager_config: |
      route:
        receiver: sns
        group_by: [alertname, severity]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
      receivers:
        - name: sns
          sns_configs:
            - topic_arn: ${aws_sns_topic.alarms.arn}
              sigv4:
                region: ${var.region}
              attributes:
                stack: ${local.name}
  YAML
}
