terraform {
  # 1.6: the oldest release whose language (test files aside) every file here uses.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # Only for the Redis AUTH token, the NATS password and the database
    # password: AWS has no resource that generates a secret value once.
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State holds those secrets: keep it in an encrypted, versioned bucket.
  #   terraform init -backend-config=bucket=... -backend-config=key=croupier/production.tfstate \
  #     -backend-config=region=eu-west-1 -backend-config=use_lockfile=true -backend-config=encrypt=true
  backend "s3" {}
}

# Every resource gets the four cost-allocation tags from here; a resource's own
# tags only add a Name or a role.
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
