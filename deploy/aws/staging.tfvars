# Staging: the production layout at its smallest, one NAT gateway, no
# global database, every worker on Fargate Spot.
#   terraform apply -var-file=staging.tfvars -var image_tag=0.1.0
environment = "staging"
owner       = "platform-team"
cost_center = "cc-1234"
region      = "eu-west-1"
dr_region   = "eu-central-1"
az_count    = 2

nat_gateway_per_az = false

domain_name    = "staging.play.example.com"
hosted_zone_id = "Z0000000000000000000"

api = {
  cpu           = 256
  memory        = 512
  min_tasks     = 2
  max_tasks     = 4
  cpu_target    = 70
  drain_seconds = 15
}

worker = {
  cpu                 = 256
  memory              = 512
  min_tasks           = 2
  max_tasks           = 4
  cpu_target          = 70
  spot                = true
  spot_on_demand_base = 0
}

relay = {
  cpu    = 256
  memory = 512
  tasks  = 2
}

aurora = {
  engine_version  = "16.6"
  instance_class  = "db.t4g.medium"
  readers         = 1
  global_database = false
}

redis = {
  node_type   = "cache.t4g.micro"
  nodes       = 2
  engine      = "redis"
  version     = "7.1"
  family      = "redis7"
  transit_tls = "required"
}

nats = {
  image  = "public.ecr.aws/docker/library/nats:2.10-alpine"
  cpu    = 256
  memory = 512
}

trace_sample_ratio = 1.0
