# AWS Backup (primary only): every day at 02:00 UTC, kept 30 days, each
# recovery point copied to the DR region's vault and kept there as long.
# Backed up: the Aurora cluster (on top of its own 30-day PITR) and the NATS
# store (EFS). Redis holds nothing that is not rebuilt (rate limits,
# revocations re-read from the database); S3 is versioned and the backups
# bucket replicated.

resource "aws_backup_vault" "main" {
  count       = local.primary ? 1 : 0
  name        = local.name
  kms_key_arn = aws_kms_key.main.arn
}

resource "aws_backup_vault" "copy" {
  count       = local.primary ? 1 : 0
  region      = var.dr_region
  name        = "${local.name}-copy"
  kms_key_arn = aws_kms_key.dr[0].arn
}

resource "aws_backup_plan" "main" {
  count = local.primary ? 1 : 0
  name  = local.name

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.main[0].name
    schedule          = "cron(0 2 * * ? *)"
    # The schedule's time zone (UTC is also the default).
    schedule_expression_timezone = "Etc/UTC"
    start_window                 = 60
    completion_window            = 360

    lifecycle {
      delete_after = var.backup_retention_days
    }

    copy_action {
      destination_vault_arn = aws_backup_vault.copy[0].arn
      lifecycle {
        delete_after = var.backup_retention_days
      }
    }
  }
}

resource "aws_backup_selection" "main" {
  count        = local.primary ? 1 : 0
  name         = local.name
  plan_id      = aws_backup_plan.main[0].id
  iam_role_arn = aws_iam_role.backup[0].arn
  resources = [
    aws_rds_cluster.main.arn,
    aws_efs_file_system.nats.arn,
  ]
}
