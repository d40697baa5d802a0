# The data stores: Aurora PostgreSQL (writer + readers over the zones) and
# ElastiCache Redis (a primary and a replica in another zone, automatic
# failover). NATS is in nats.tf, the S3 buckets in s3.tf.

# --- Aurora PostgreSQL ------------------------------------------------------------

resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_rds_cluster_parameter_group" "main" {
  name        = local.name
  family      = "aurora-postgresql${split(".", var.aurora.engine_version)[0]}"
  description = "Croupier: TLS required, slow statements and connections logged"

  # Plaintext connections refused: Croupier connects with sslmode=require, or
  # verify-full with the RDS CA bundle (ecs.tf, README "Encryption in transit").
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # Schema changes (the migrations) and slow statements in the logs.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
}

# The global database (primary, production): the DR region's standby joins
# it as a read-only secondary, a second behind, promoted on failover by the
# AWS CLI (switchover or failover-global-cluster: it stays a member, so the
# old primary can rejoin as a secondary for the fail-back). Owned by the
# primary's state for good, whichever region serves.
resource "aws_rds_global_cluster" "main" {
  count                     = local.primary && var.aurora.global_database ? 1 : 0
  global_cluster_identifier = local.name
  engine                    = "aurora-postgresql"
  engine_version            = var.aurora.engine_version
  storage_encrypted         = true
  deletion_protection       = local.production
}

resource "aws_rds_cluster" "main" {
  cluster_identifier              = local.name
  engine                          = "aurora-postgresql"
  engine_version                  = var.aurora.engine_version
  global_cluster_identifier       = local.primary ? try(aws_rds_global_cluster.main[0].id, null) : var.aurora_global_cluster_id
  database_name                   = local.primary ? "croupier" : null
  master_username                 = local.primary ? "croupier" : null
  master_password                 = local.primary ? random_password.db[0].result : null
  db_subnet_group_name            = aws_db_subnet_group.main.name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.main.name
  vpc_security_group_ids          = [aws_security_group.db.id]
  availability_zones              = local.azs
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.main.arn
  backup_retention_period         = var.backup_retention_days
  preferred_backup_window         = "01:00-01:45"
  preferred_maintenance_window    = "sun:03:00-sun:04:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = local.production
  skip_final_snapshot             = !local.production
  final_snapshot_identifier       = local.production ? "${local.name}-final" : null
  enabled_cloudwatch_logs_exports = ["postgresql"]
  # The binary logs in with a password; IAM authentication is on for people
  # and tools (psql with a token), not for Croupier.
  iam_database_authentication_enabled = true

  lifecycle {
    # A rotation changes the password; a global secondary is told its source
    # by the global cluster.
    ignore_changes = [master_password, replication_source_identifier, availability_zones]

    # A standby has no data of its own: it is a secondary of the primary's
    # global database.
    precondition {
      condition     = local.primary || var.aurora_global_cluster_id != ""
      error_message = "standby = true needs aurora_global_cluster_id (the primary's output)."
    }
  }
}

# The writer and the readers, one per zone in turn: Aurora fails over to a
# reader (promotion tier 1 first) in about 30 s.
resource "aws_rds_cluster_instance" "main" {
  count                                 = 1 + var.aurora.readers
  identifier                            = "${local.name}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.main.id
  engine                                = aws_rds_cluster.main.engine
  engine_version                        = aws_rds_cluster.main.engine_version
  instance_class                        = var.aurora.instance_class
  availability_zone                     = local.azs[count.index % var.az_count]
  promotion_tier                        = count.index
  db_subnet_group_name                  = aws_db_subnet_group.main.name
  publicly_accessible                   = false
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.main.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  copy_tags_to_snapshot                 = true
}

# --- ElastiCache Redis -------------------------------------------------------------

resource "aws_elasticache_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_elasticache_parameter_group" "main" {
  name   = local.name
  family = var.redis.family
  # Rate-limit buckets and pub/sub: when memory runs out, drop the keys that
  # expire anyway rather than refuse writes.
  parameter {
    name  = "maxmemory-policy"
    value = "volatile-lru"
  }
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id = local.name
  description          = "Croupier: rate limits, session revocations, live notifications"
  engine               = var.redis.engine
  engine_version       = var.redis.version
  node_type            = var.redis.node_type
  num_cache_clusters   = var.redis.nodes
  # The primary and its replicas in different zones; a failed primary is
  # replaced by a replica automatically.
  preferred_cache_cluster_azs = [for i in range(var.redis.nodes) : local.azs[i % var.az_count]]
  automatic_failover_enabled  = true
  multi_az_enabled            = true
  port                        = 6379
  subnet_group_name           = aws_elasticache_subnet_group.main.name
  parameter_group_name        = aws_elasticache_parameter_group.main.name
  security_group_ids          = [aws_security_group.redis.id]
  at_rest_encryption_enabled  = true
  kms_key_id                  = aws_kms_key.main.arn
  # TLS only: Croupier connects with rediss:// (secrets.tf), verified
  # against the image's public CA store (ElastiCache's certificates chain to
  # Amazon's public roots).
  transit_encryption_enabled = true
  transit_encryption_mode    = var.redis.transit_tls
  auth_token                 = random_password.redis.result
  auth_token_update_strategy = "ROTATE"
  auto_minor_version_upgrade = true
  maintenance_window         = "sun:04:00-sun:05:00"
  # Nothing in Redis is the system of record; one daily snapshot kept a day
  # is enough to look at what it held.
  snapshot_retention_limit = 1
  snapshot_window          = "00:00-01:00"
  apply_immediately        = !local.production

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.redis.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
