# Who may talk to whom. Only CloudFront reaches the ALB, only the ALB reaches
# the api tasks, only the tasks reach the data stores, only the worker and
# relay tasks reach NATS. Rules are separate resources so that the groups can
# refer to each other.

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "The ALB: HTTPS from CloudFront's origin-facing addresses only"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-alb" }
}

# Port 443 only: the prefix list counts as ~55 rules against the group's
# quota of 60, so port 80 (the redirect) is not opened to it; CloudFront talks
# HTTPS to the origin anyway.
resource "aws_vpc_security_group_ingress_rule" "alb_https_cloudfront" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from CloudFront"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the api tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.api.id
}

# --- tasks ------------------------------------------------------------------------

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "api tasks: 8080 from the ALB"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-api" }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "HTTP API and health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.alb.id
}

# Worker and relay tasks take no connections at all (their /metrics is
# scraped by their own ADOT sidecar over localhost).
resource "aws_security_group" "worker" {
  name        = "${local.name}-worker"
  description = "worker and relay tasks: no ingress"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-worker" }
}

# Tasks call AWS APIs (endpoints, S3, ECR) and, for images from public
# registries (ADOT, NATS), the internet through NAT: HTTPS out.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each          = { api = aws_security_group.api.id, worker = aws_security_group.worker.id, nats = aws_security_group.nats.id }
  security_group_id = each.value
  description       = "HTTPS to AWS APIs and image registries"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- data stores ----------------------------------------------------------------

locals {
  # (client group, server group, port, what)
  data_paths = {
    api_db       = [aws_security_group.api.id, aws_security_group.db.id, 5432, "PostgreSQL"]
    worker_db    = [aws_security_group.worker.id, aws_security_group.db.id, 5432, "PostgreSQL"]
    api_redis    = [aws_security_group.api.id, aws_security_group.redis.id, 6379, "Redis"]
    worker_redis = [aws_security_group.worker.id, aws_security_group.redis.id, 6379, "Redis"]
    worker_nats  = [aws_security_group.worker.id, aws_security_group.nats_nlb.id, 4222, "NATS clients (the NLB)"]
    nlb_nats     = [aws_security_group.nats_nlb.id, aws_security_group.nats.id, 4222, "NATS clients"]
    nlb_health   = [aws_security_group.nats_nlb.id, aws_security_group.nats.id, 8222, "NATS /healthz"]
    nats_efs     = [aws_security_group.nats.id, aws_security_group.efs.id, 2049, "NFS (JetStream store)"]
  }
}

resource "aws_vpc_security_group_ingress_rule" "data" {
  for_each                     = local.data_paths
  security_group_id            = each.value[1]
  description                  = "${each.value[3]} from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value[2]
  to_port                      = each.value[2]
  referenced_security_group_id = each.value[0]
}

resource "aws_vpc_security_group_egress_rule" "data" {
  for_each                     = local.data_paths
  security_group_id            = each.value[0]
  description                  = "${each.value[3]} (${each.key})"
  ip_protocol                  = "tcp"
  from_port                    = each.value[2]
  to_port                      = each.value[2]
  referenced_security_group_id = each.value[1]
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "Aurora PostgreSQL: 5432 from the tasks"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-db" }
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "ElastiCache Redis: 6379 from the tasks"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-redis" }
}

resource "aws_security_group" "nats" {
  name        = "${local.name}-nats"
  description = "NATS: clients from worker and relay tasks, routes and monitoring between nodes"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-nats" }
}

# The cluster's routes (6222) between the nodes.
resource "aws_vpc_security_group_ingress_rule" "nats_routes" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS cluster routes between nodes"
  ip_protocol                  = "tcp"
  from_port                    = 6222
  to_port                      = 6222
  referenced_security_group_id = aws_security_group.nats.id
}

resource "aws_vpc_security_group_egress_rule" "nats_routes" {
  security_group_id            = aws_security_group.nats.id
  description                  = "NATS cluster routes between nodes"
  ip_protocol                  = "tcp"
  from_port                    = 6222
  to_port                      = 6222
  referenced_security_group_id = aws_security_group.nats.id
}

# The internal NLB in front of the NATS nodes (nats.tf): clients connect to
# it, it forwards to a healthy node (client IP preservation off: the source
# is the NLB).
resource "aws_security_group" "nats_nlb" {
  name        = "${local.name}-nats-nlb"
  description = "The NATS NLB: 4222 from worker and relay tasks"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-nats-nlb" }
}

resource "aws_security_group" "efs" {
  name        = "${local.name}-efs"
  description = "EFS (NATS JetStream store): NFS from the NATS tasks"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-efs" }
}

resource "aws_security_group" "endpoints" {
  name        = "${local.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from the VPC"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}
