# Roles, one of each kind per service, each with only what it needs:
#   execution role  pull the image, write its logs, read its own secrets
#   task role       what the process itself calls: X-Ray and Prometheus
#                   remote write (the ADOT sidecar), the export bucket (worker)

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  roles = toset(["api", "worker", "relay", "migrate"])
  # Secrets each role's execution role may read (the ARNs, without JSON keys).
  role_secret_arns = {
    api     = [local.db_secret_arn, aws_secretsmanager_secret.redis.arn]
    worker  = [local.db_secret_arn, aws_secretsmanager_secret.redis.arn, aws_secretsmanager_secret.nats.arn]
    relay   = [local.db_secret_arn, aws_secretsmanager_secret.nats.arn]
    migrate = [local.db_secret_arn]
  }
  log_group_arns = {
    for role in local.roles : role => concat(
      ["${aws_cloudwatch_log_group.role[role].arn}:*"],
      role == "migrate" ? [] : ["${aws_cloudwatch_log_group.adot.arn}:*"],
    )
  }
}

resource "aws_iam_role" "execution" {
  for_each           = local.roles
  name               = "${local.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  for_each = local.roles
  statement {
    sid       = "PullAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "Pull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.project}/${var.environment}"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.log_group_arns[each.key]
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.role_secret_arns[each.key]
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn, "arn:${local.partition}:kms:${var.region}:${local.account_id}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com", "ecr.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.roles
  name     = "execution"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

resource "aws_iam_role" "task" {
  for_each           = local.roles
  name               = "${local.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = toset(["api", "worker", "relay"])
  statement {
    sid = "Traces"
    actions = [
      "xray:PutTraceSegments", "xray:PutTelemetryRecords",
      "xray:GetSamplingRules", "xray:GetSamplingTargets",
    ]
    # X-Ray's write actions take no resource.
    resources = ["*"]
  }
  statement {
    sid       = "Metrics"
    actions   = ["aps:RemoteWrite"]
    resources = [aws_prometheus_workspace.main.arn]
  }
  dynamic "statement" {
    for_each = each.key == "worker" ? [1] : []
    content {
      sid       = "Export"
      actions   = ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:AbortMultipartUpload"]
      resources = [aws_s3_bucket.export.arn, "${aws_s3_bucket.export.arn}/*"]
    }
  }
  dynamic "statement" {
    for_each = each.key == "worker" ? [1] : []
    content {
      sid       = "ExportKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [aws_kms_key.main.arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = data.aws_iam_policy_document.task
  name     = "task"
  role     = aws_iam_role.task[each.key].id
  policy   = each.value.json
}

# --- NATS ---------------------------------------------------------------------------

resource "aws_iam_role" "nats_execution" {
  name               = "${local.name}-nats-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "nats_execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.nats.arn}:*"]
  }
  statement {
    sid       = "Secret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.nats.arn]
  }
  statement {
    sid       = "DecryptSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "nats_execution" {
  name   = "execution"
  role   = aws_iam_role.nats_execution.id
  policy = data.aws_iam_policy_document.nats_execution.json
}

# Its store: mount and write the EFS file system (through its access point).
resource "aws_iam_role" "nats_task" {
  name               = "${local.name}-nats-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "nats_task" {
  statement {
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.nats.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = aws_efs_access_point.nats[*].arn
    }
  }
}

resource "aws_iam_role_policy" "nats_task" {
  name   = "store"
  role   = aws_iam_role.nats_task.id
  policy = data.aws_iam_policy_document.nats_task.json
}

# --- services of AWS itself ------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  for_each = {
    flow_logs   = "vpc-flow-logs.amazonaws.com"
    monitoring  = "monitoring.rds.amazonaws.com"
    backup      = "backup.amazonaws.com"
    replication = "s3.amazonaws.com"
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.assume["flow_logs"].json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

# RDS Enhanced Monitoring.
resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.assume["monitoring"].json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_iam_role" "backup" {
  count              = local.primary ? 1 : 0
  name               = "${local.name}-backup"
  assume_role_policy = data.aws_iam_policy_document.assume["backup"].json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = local.primary ? toset(["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"]) : toset([])
  role     = aws_iam_role.backup[0].name
  # These managed policies live under service-role/.
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/${each.key}"
}

# S3 replication of the backups bucket to the DR region.
resource "aws_iam_role" "s3_replication" {
  count              = local.primary ? 1 : 0
  name               = "${local.name}-s3-replication"
  assume_role_policy = data.aws_iam_policy_document.assume["replication"].json
}

data "aws_iam_policy_document" "s3_replication" {
  count = local.primary ? 1 : 0
  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.backups.arn]
  }
  statement {
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }
  statement {
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["${aws_s3_bucket.backups_replica[0].arn}/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
  statement {
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.dr[0].arn]
  }
}

resource "aws_iam_role_policy" "s3_replication" {
  count  = local.primary ? 1 : 0
  name   = "replication"
  role   = aws_iam_role.s3_replication[0].id
  policy = data.aws_iam_policy_document.s3_replication[0].json
}
