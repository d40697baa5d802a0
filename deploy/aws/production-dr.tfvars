# The DR region's standby of production: the same module, standby = true,
# in dr_region, with its own state (its own backend key).
#   terraform init -reconfigure -backend-config=key=croupier/production-dr.tfstate ...
#   terraform apply -var-file=production-dr.tfvars -var image_tag=<production's tag>
# Fail over (README, "Disaster recovery"): promote the Aurora cluster with the
# AWS CLI, then set serving = true here and apply. Never change standby.
environment = "production"
owner       = "platform-team"
cost_center = "cc-1234"
region      = "eu-central-1"
dr_region   = "eu-west-1"
az_count    = 3
standby     = true
# false: the services at 0 tasks. true: this region serves (after a failover).
serving = false

nat_gateway_per_az = false

domain_name    = "play.example.com"
hosted_zone_id = "Z0000000000000000000"

# The primary's output aurora_global_cluster_id.
aurora_global_cluster_id = "croupier-production"

# As production.tfvars: the derived image's RDS CA bundle.
# db_ca_bundle_path = "/etc/ssl/rds/global-bundle.pem"

alarm_emails = ["oncall@example.com"]
