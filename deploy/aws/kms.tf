# One customer-managed key per region for everything this stack stores:
# Aurora, Performance Insights, ElastiCache, EFS, S3, Secrets Manager, ECR,
# CloudWatch Logs, SNS, AWS Backup. Rotated yearly by KMS.

# In a key policy "*" means this key.
data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109: a key policy: resources "*" is the key itself, and the account statement is AWS's default.
  # checkov:skip=CKV_AWS_111: a key policy: resources "*" is the key itself.
  # checkov:skip=CKV_AWS_356: a key policy: resources "*" is the key itself.
  # The account administers the key through IAM (the default key policy).
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts log groups with it, for this account's groups only.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:*:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms, EventBridge and Prometheus's Alertmanager publish to
  # the encrypted SNS topic.
  statement {
    sid       = "AlarmPublishers"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "backup.amazonaws.com", "aps.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "${local.name}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

# The DR region's key (primary only): the backup copies, the replicated backup
# bucket and the database secret's replica are encrypted there with it.
resource "aws_kms_key" "dr" {
  count                   = local.primary ? 1 : 0
  region                  = var.dr_region
  description             = "${local.name}: backup copies and replicas in ${var.dr_region}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "dr" {
  count         = local.primary ? 1 : 0
  region        = var.dr_region
  name          = "alias/${local.name}-copies"
  target_key_id = aws_kms_key.dr[0].key_id
}
