# The image's repository (primary only; the standby pulls from the primary
# region's repository through its replication to the DR region). Tags are
# immutable, so a tag names one image; every push is scanned.

resource "aws_ecr_repository" "croupier" {
  count                = local.primary ? 1 : 0
  name                 = "${var.project}/${var.environment}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = !local.production

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "croupier" {
  count      = local.primary ? 1 : 0
  repository = aws_ecr_repository.croupier[0].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images (failed or superseded pushes) after 7 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the 50 newest tagged images (rollbacks reach far enough back)"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
        action       = { type = "expire" }
      },
    ]
  })
}

# Images replicated to the DR region, so the standby starts without the
# primary region.
resource "aws_ecr_replication_configuration" "dr" {
  count = local.primary ? 1 : 0
  replication_configuration {
    rule {
      destination {
        region      = var.dr_region
        registry_id = local.account_id
      }
      repository_filter {
        filter      = "${var.project}/"
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}

locals {
  # The same repository name in either region (replicated).
  image = "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com/${var.project}/${var.environment}:${var.image_tag}"
}
