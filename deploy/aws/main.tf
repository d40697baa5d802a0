# Names, tags and the numbers the rest of the stack derives from the app's
# shutdown contract (docs/deploy.md, "Rolling upgrades with zero failed requests").

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_availability_zones" "available" {
  # checkov:skip=CKV_AWS_394: the stack takes the first az_count names (slice below), so a zone AWS adds later changes nothing.
  state = "available"
}

locals {
  name       = "${var.project}-${var.environment}${var.standby ? "-dr" : ""}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  # The region's role (which singletons this stack owns) never changes;
  # whether it serves does, on a failover (variables standby and serving).
  primary    = !var.standby
  serving    = var.serving == null ? !var.standby : var.serving
  production = var.environment == "production"

  tags = {
    project       = var.project
    environment   = var.environment
    owner         = var.owner
    "cost-center" = var.cost_center
  }

  # The origin name CloudFront connects to: a Route 53 failover record, the
  # primary region's ALB first, the DR region's when the primary is unhealthy.
  origin_domain = "origin.${var.domain_name}"

  # --- the drain (docs/deploy.md) ---------------------------------------------
  # The ALB checks /readyz every 5 s and takes a target out after 2 failures:
  # 10 s, below the api's 15 s drain (values-aws.yaml's numbers).
  health_check_interval  = 5
  health_check_unhealthy = 2
  request_deadline       = ceil(var.request_timeout_ms / 1000)
  # ECS deregisters a task from the target group before it sends SIGTERM and
  # waits this long for requests in flight: longer than the drain, and at
  # least a request's deadline.
  deregistration_delay = max(var.api.drain_seconds + 5, local.request_deadline)
  # SIGKILL after drain + max(grace, deadline) + 5 s of margin, as the chart
  # derives terminationGracePeriodSeconds (50 s for the api, 35 s otherwise).
  api_stop_timeout    = var.api.drain_seconds + max(var.shutdown_grace_seconds, local.request_deadline) + 5
  worker_stop_timeout = max(var.shutdown_grace_seconds, local.request_deadline) + 5
}

# Warnings on plan, not errors: the stack applies, but says what is weaker
# than it should be.
check "database_tls_verified" {
  assert {
    condition     = !local.production || var.db_ca_bundle_path != ""
    error_message = "PostgreSQL TLS is encrypted but not verified (sslmode=require): build the image with the RDS CA bundle and set db_ca_bundle_path (README, \"Encryption in transit\")."
  }
}

check "drain_numbers" {
  assert {
    condition     = local.health_check_interval * local.health_check_unhealthy < var.api.drain_seconds
    error_message = "The api's drain must outlast the ALB's health check (interval x unhealthy threshold)."
  }
  assert {
    condition     = local.api_stop_timeout <= 120
    error_message = "ECS stopTimeout is at most 120 s: shorten the drain, the grace or the request deadline."
  }
}
