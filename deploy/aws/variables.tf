# --- identity and placement ---------------------------------------------------

variable "project" {
  description = "Name prefix of every resource, and the project tag."
  type        = string
  default     = "croupier"
}

variable "environment" {
  description = "staging or production (the environment tag; production turns on the safeguards)."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment: staging or production."
  }
}

variable "owner" {
  description = "The owner tag: the team answerable for this stack."
  type        = string
}

variable "cost_center" {
  description = "The cost-center tag."
  type        = string
}

variable "region" {
  description = "Region of this stack."
  type        = string
}

variable "dr_region" {
  description = "The disaster-recovery region: backups are copied there, the backup bucket is replicated there and the database secret has a replica there. Must differ from region."
  type        = string
}

variable "standby" {
  description = "This stack's role, fixed for its life: false, the primary region's stack, which owns the region-independent pieces (the global database, the database password and its secret, CloudFront and the edge records, ECR, the backup plan, the DR region's key, vault and replica bucket); true, the DR region's stack (the same module, applied with the DR tfvars), which owns none of them, reads the replicated secrets and answers SECONDARY in the origin's failover record. Never flip it to fail over: that is `serving` (README, \"Disaster recovery\")."
  type        = bool
  default     = false
}

variable "serving" {
  description = "Whether this region serves: its services run at their minimum and autoscale, and its Aurora cluster is (or is being made) the global database's writer. null: the role's usual state (the primary serves, the standby does not). To fail over: promote the DR cluster with the AWS CLI, then apply the DR tfvars with serving = true; while the DR region serves, the primary's tfvars carry serving = false. It creates and destroys nothing: it only scales the services."
  type        = bool
  default     = null
}

variable "az_count" {
  description = "Availability zones used (public and private subnet, and a NAT gateway when nat_gateway_per_az, in each)."
  type        = number
  default     = 3
  validation {
    condition     = var.az_count >= 2
    error_message = "az_count: at least 2 (the point of the stack is to survive the loss of one)."
  }
}

variable "vpc_cidr" {
  description = "The VPC's range; each subnet is a /20 of it."
  type        = string
  default     = "10.0.0.0/16"
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (production: an AZ outage does not cut the others' egress); false: one for all (staging, cheaper)."
  type        = bool
  default     = true
}

# --- DNS and certificates -----------------------------------------------------

variable "domain_name" {
  description = "The public name players use (play.example.com): the CloudFront alias."
  type        = string
}

variable "hosted_zone_id" {
  description = "The Route 53 public hosted zone that holds domain_name (certificates are validated in it)."
  type        = string
}

# --- the image and the tasks --------------------------------------------------

variable "image_tag" {
  description = "Tag of the croupier image in this stack's ECR repository (tags are immutable; deploy/aws/deploy.sh migrates, then applies with a new one)."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: the architecture the image was built for. Fargate Spot is for X86_64 only, so ARM64 runs the worker on demand."
  type        = string
  default     = "X86_64"
}

variable "api" {
  description = "The api service: task size and the autoscaling range (target tracking on CPU)."
  type = object({
    cpu           = number
    memory        = number
    min_tasks     = number
    max_tasks     = number
    cpu_target    = number
    drain_seconds = number
  })
  default = {
    cpu           = 512
    memory        = 1024
    min_tasks     = 2
    max_tasks     = 10
    cpu_target    = 70
    drain_seconds = 15
  }
}

variable "worker" {
  description = "The worker service (event consumers): task size, autoscaling range, and Fargate Spot (spot_on_demand_base tasks stay on demand)."
  type = object({
    cpu                 = number
    memory              = number
    min_tasks           = number
    max_tasks           = number
    cpu_target          = number
    spot                = bool
    spot_on_demand_base = number
  })
  default = {
    cpu                 = 512
    memory              = 1024
    min_tasks           = 2
    max_tasks           = 10
    cpu_target          = 70
    spot                = true
    spot_on_demand_base = 1
  }
}

variable "relay" {
  description = "The relay service (outbox to JetStream): fixed task count, as in the chart's values-aws.yaml (one or two relays keep up)."
  type = object({
    cpu    = number
    memory = number
    tasks  = number
  })
  default = {
    cpu    = 256
    memory = 512
    tasks  = 2
  }
}

variable "scale_in_cooldown" {
  description = "Seconds after a scale-in before another (the chart's HPA waits 300 s too)."
  type        = number
  default     = 300
}

variable "scale_out_cooldown" {
  description = "Seconds after a scale-out before another."
  type        = number
  default     = 60
}

variable "shutdown_grace_seconds" {
  description = "Croupier's shutdown_grace_secs: in-flight requests' time after the listener closes."
  type        = number
  default     = 30
}

variable "request_timeout_ms" {
  description = "Croupier's http.request_timeout_ms (reads are cut there): the ALB's deregistration delay covers it."
  type        = number
  default     = 30000
}

variable "croupier_env" {
  description = "More CROUPIER_* settings for every Croupier container (e.g. CROUPIER_TELEMETRY__SAMPLE_RATIO). Never secrets."
  type        = map(string)
  default     = {}
}

# --- data stores --------------------------------------------------------------

variable "aurora" {
  description = "Aurora PostgreSQL: engine version, instance class, readers (the reader endpoint serves Croupier's replica reads) and the global database (production: the DR region's secondary)."
  type = object({
    engine_version  = string
    instance_class  = string
    readers         = number
    global_database = bool
  })
  default = {
    engine_version  = "16.6"
    instance_class  = "db.r6g.large"
    readers         = 1
    global_database = true
  }
}

variable "aurora_global_cluster_id" {
  description = "Standby only: the primary's global cluster identifier (its output aurora_global_cluster_id); the standby's cluster joins it as a secondary. Keep it set after a failover: the promoted cluster is still a member (the writer) of that global cluster."
  type        = string
  default     = ""
}

variable "db_password_rotation_lambda_arn" {
  description = "A Secrets Manager rotation function for the database secret (AWS's PostgreSQL single-user rotation, deployed from the Serverless Application Repository); empty: no rotation. Croupier reads the password at start, and single-user rotation invalidates the old one at once: new connections fail until every service is redeployed (README, runbook section 4)."
  type        = string
  default     = ""
}

variable "db_rotation_days" {
  description = "Days between rotations of the database password, when a rotation function is set."
  type        = number
  default     = 30
}

variable "db_ca_bundle_path" {
  description = "Path, inside the croupier container, of the RDS CA bundle (global-bundle.pem), which the image does not carry: build a derived image (README, \"Encryption in transit\"). Set: the database URLs ask for sslmode=verify-full&sslrootcert=<path> (encrypted, the server's certificate and name verified). Empty: sslmode=require (encrypted, unverified)."
  type        = string
  default     = ""
  validation {
    condition     = var.db_ca_bundle_path == "" || startswith(var.db_ca_bundle_path, "/")
    error_message = "db_ca_bundle_path: an absolute path inside the container (e.g. /etc/ssl/rds/global-bundle.pem), or empty."
  }
}

variable "redis" {
  description = "ElastiCache Redis 7: node type and nodes (a primary and replicas, each in another AZ), and transit_tls, ElastiCache's transit_encryption_mode: \"required\" (TLS only; Croupier connects with rediss://). \"preferred\" (TLS offered, plaintext still accepted) is only the first step of moving an existing replication group from plaintext: apply with it, redeploy api and worker, then apply with \"required\" (README)."
  type = object({
    node_type   = string
    nodes       = number
    engine      = string
    version     = string
    family      = string
    transit_tls = string
  })
  default = {
    node_type   = "cache.t4g.small"
    nodes       = 2
    engine      = "redis"
    version     = "7.1"
    family      = "redis7"
    transit_tls = "required"
  }
  validation {
    condition     = contains(["required", "preferred"], var.redis.transit_tls)
    error_message = "redis.transit_tls: required (or preferred, only while moving an existing group to TLS)."
  }
}

variable "nats" {
  description = "The NATS JetStream cluster on ECS with EFS: the image and each node's task size."
  type = object({
    image  = string
    cpu    = number
    memory = number
  })
  default = {
    image  = "public.ecr.aws/docker/library/nats:2.10-alpine"
    cpu    = 512
    memory = 1024
  }
}

# --- observability ------------------------------------------------------------

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by mail); empty: subscribe something else to the topic output."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps every log group."
  type        = number
  default     = 30
}

variable "adot_image" {
  description = "The AWS Distro for OpenTelemetry collector, the sidecar of every Croupier task (traces to X-Ray, metrics to Amazon Managed Prometheus)."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

variable "trace_sample_ratio" {
  description = "Croupier's telemetry.sample_ratio (values-aws.yaml: 0.1)."
  type        = number
  default     = 0.1
}

# --- edge ---------------------------------------------------------------------

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one client address before WAF blocks it (a flood guard above Croupier's own quotas)."
  type        = number
  default     = 3000
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

# --- backup -------------------------------------------------------------------

variable "backup_retention_days" {
  description = "Days AWS Backup keeps a recovery point, here and in the DR region's copy; also Aurora's own backup retention."
  type        = number
  default     = 30
}
