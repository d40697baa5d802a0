# S3: the analytics export (Croupier writes it, CROUPIER_EXPORT__URL), the
# backups (pg_dump and `croupier backup` output, replicated to the DR region)
# and the access logs of the ALB, CloudFront and the other buckets. Every
# bucket: versioned, public access blocked, encrypted, older objects moved
# to cheaper storage classes.

# TLS only, for every bucket.
data "aws_iam_policy_document" "tls_only" {
  for_each = { export = aws_s3_bucket.export.arn, backups = aws_s3_bucket.backups.arn, logs = aws_s3_bucket.logs.arn }
  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# --- the analytics export ---------------------------------------------------------------
# (Written out rather than for_each'd: checkov's graph follows each bucket's
# settings only when they refer to it by name.)

resource "aws_s3_bucket" "export" {
  # checkov:skip=CKV_AWS_144: the export is derived data (events are in PostgreSQL, backed up and copied); replicating it would double its cost for nothing that cannot be re-exported.
  bucket        = "${local.name}-export-${local.account_id}"
  force_destroy = !local.production
}

resource "aws_s3_bucket_versioning" "export" {
  bucket = aws_s3_bucket.export.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "export" {
  bucket = aws_s3_bucket.export.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "export" {
  bucket                  = aws_s3_bucket.export.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "export" {
  bucket = aws_s3_bucket.export.id

  rule {
    id     = "tiering"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    transition {
      days          = 180
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "export" {
  bucket        = aws_s3_bucket.export.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/export/"
}

resource "aws_s3_bucket_policy" "export" {
  bucket = aws_s3_bucket.export.id
  policy = data.aws_iam_policy_document.tls_only["export"].json
}

# --- the backups ---------------------------------------------------------------
# (Written out rather than for_each'd: checkov's graph follows each bucket's
# settings only when they refer to it by name.)

resource "aws_s3_bucket" "backups" {
  bucket        = "${local.name}-backups-${local.account_id}"
  force_destroy = !local.production
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    id     = "tiering"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.backup_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "backups" {
  bucket        = aws_s3_bucket.backups.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/backups/"
}

resource "aws_s3_bucket_policy" "backups" {
  bucket = aws_s3_bucket.backups.id
  policy = data.aws_iam_policy_document.tls_only["backups"].json
}

# --- the backups bucket, replicated to the DR region --------------------------------

resource "aws_s3_bucket" "backups_replica" {
  # checkov:skip=CKV_AWS_144: this is the replication destination.
  # checkov:skip=CKV_AWS_18: server access logs must go to a bucket of the same region, and the DR region has none until a failover.
  count         = local.primary ? 1 : 0
  region        = var.dr_region
  bucket        = "${local.name}-backups-replica-${local.account_id}"
  force_destroy = !local.production
}

resource "aws_s3_bucket_versioning" "backups_replica" {
  count  = local.primary ? 1 : 0
  region = var.dr_region
  bucket = aws_s3_bucket.backups_replica[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups_replica" {
  count  = local.primary ? 1 : 0
  region = var.dr_region
  bucket = aws_s3_bucket.backups_replica[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.dr[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "backups_replica" {
  count                   = local.primary ? 1 : 0
  region                  = var.dr_region
  bucket                  = aws_s3_bucket.backups_replica[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "backups_replica" {
  count  = local.primary ? 1 : 0
  region = var.dr_region
  bucket = aws_s3_bucket.backups_replica[0].id
  rule {
    id     = "tiering"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.backup_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_replication_configuration" "backups" {
  count  = local.primary ? 1 : 0
  bucket = aws_s3_bucket.backups.id
  role   = aws_iam_role.s3_replication[0].arn

  rule {
    id     = "to-${var.dr_region}"
    status = "Enabled"
    filter {}
    delete_marker_replication {
      status = "Enabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket        = aws_s3_bucket.backups_replica[0].arn
      storage_class = "STANDARD"
      encryption_configuration {
        replica_kms_key_id = aws_kms_key.dr[0].arn
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups, aws_s3_bucket_versioning.backups_replica]
}

# --- access logs ------------------------------------------------------------------
# ALB access logs can only be written with SSE-S3, so this bucket is not on
# the KMS key.

resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_145: ALB access log delivery supports SSE-S3 only, not a customer-managed key.
  # checkov:skip=CKV_AWS_18: this is the access-log bucket; logging it into itself would loop.
  # checkov:skip=CKV_AWS_144: access logs are not replicated across regions: they are kept 90 days for investigations, not for recovery.
  bucket        = "${local.name}-logs-${local.account_id}"
  force_destroy = !local.production
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# CloudFront's standard logs are written with the bucket's ACL.
resource "aws_s3_bucket_ownership_controls" "logs" {
  # checkov:skip=CKV2_AWS_65: CloudFront's standard logging writes through the bucket's ACL, so ACLs stay enabled on the logs bucket only.
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    expiration {
      days = 90
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "logs" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["logs"].json]

  # ALB access logs: the regional log-delivery service.
  statement {
    sid       = "ALBLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  # Server access logs of the other buckets.
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json
}
