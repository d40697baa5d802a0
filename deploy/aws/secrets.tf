# Secrets in Secrets Manager, encrypted with the stack's key, injected by ECS
# into the containers' environment at start (the binary reads plain
# CROUPIER_* variables; sqlx reads PGPASSWORD). No secret is ever a task
# definition value.
#
#   database  {username, password}       PGPASSWORD of every Croupier task.
#             The URLs themselves carry no password (CROUPIER_DATABASE_URL and
#             CROUPIER_DATABASE__REPLICA_URLS are plain values), so a rotation
#             only changes this key. Replicated to the DR region, where the
#             standby's tasks read it.
#   redis     {url}                      rediss://:AUTH@primary:6379 (TLS)
#   nats      {url, password}            the NATS servers' password, and the
#                                        client URL with it (worker, relay)

# --- database -------------------------------------------------------------------

resource "random_password" "db" {
  count   = local.primary ? 1 : 0
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "db" {
  count                   = local.primary ? 1 : 0
  name                    = "${var.project}/${var.environment}/database"
  description             = "Aurora master credentials (PGPASSWORD of the Croupier tasks)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = local.production ? 30 : 7

  replica {
    region     = var.dr_region
    kms_key_id = aws_kms_key.dr[0].arn
  }
}

resource "aws_secretsmanager_secret_version" "db" {
  count     = local.primary ? 1 : 0
  secret_id = aws_secretsmanager_secret.db[0].id
  secret_string = jsonencode({
    username = "croupier"
    password = random_password.db[0].result
  })

  # A rotation changes the password behind Terraform's back: keep it.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# Rotation where AWS supports it: Secrets Manager's PostgreSQL single-user
# rotation function (an operator deploys it from the Serverless Application
# Repository into the private subnets, then sets its ARN here). Single-user:
# the old password stops working when the function sets the new one, so the
# running tasks cannot open new connections until they are redeployed
# (runbook, section 4). Alternating users would avoid that window, but needs
# a separate master secret and an application role that owns the schema;
# the stack uses the master user (README, "Secrets").
resource "aws_secretsmanager_secret_rotation" "db" {
  count               = local.primary && var.db_password_rotation_lambda_arn != "" ? 1 : 0
  secret_id           = aws_secretsmanager_secret.db[0].id
  rotation_lambda_arn = var.db_password_rotation_lambda_arn
  rotation_rules {
    automatically_after_days = var.db_rotation_days
  }
}

# The standby reads the primary's replica of it, in its own region.
data "aws_secretsmanager_secret" "db_replica" {
  count = var.standby ? 1 : 0
  name  = "${var.project}/${var.environment}/database"
}

locals {
  db_secret_arn = local.primary ? aws_secretsmanager_secret.db[0].arn : data.aws_secretsmanager_secret.db_replica[0].arn
}

# --- Redis ----------------------------------------------------------------------

resource "random_password" "redis" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "redis" {
  # checkov:skip=CKV2_AWS_57: the AUTH token is rotated by ElastiCache (auth_token_update_strategy ROTATE) when Terraform changes it; Secrets Manager has no rotation function for a replication group's token.
  name                    = "${var.project}/${var.environment}${var.standby ? "-dr" : ""}/redis"
  description             = "Croupier's Redis URL, with the ElastiCache AUTH token"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = local.production ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id = aws_secretsmanager_secret.redis.id
  secret_string = jsonencode({
    # rediss://: TLS, the server's certificate verified (data.tf).
    url = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379"
  })
}

# --- NATS -----------------------------------------------------------------------

resource "random_password" "nats" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "nats" {
  # checkov:skip=CKV2_AWS_57: no AWS rotation function exists for a NATS password; rotating it is a Terraform change (README).
  name                    = "${var.project}/${var.environment}${var.standby ? "-dr" : ""}/nats"
  description             = "The NATS servers' password and Croupier's NATS URL"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = local.production ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "nats" {
  secret_id = aws_secretsmanager_secret.nats.id
  secret_string = jsonencode({
    password = random_password.nats.result
    url      = "nats://croupier:${random_password.nats.result}@${local.nats_host}:4222"
  })
}
