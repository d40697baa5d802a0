# Production: three zones, a NAT gateway in each, the defaults' sizes, the
# Aurora global database the DR region's standby joins (production-dr.tfvars).
#   terraform apply -var-file=production.tfvars -var image_tag=0.1.0
environment = "production"
owner       = "platform-team"
cost_center = "cc-1234"
region      = "eu-west-1"
dr_region   = "eu-central-1"
az_count    = 3

nat_gateway_per_az = true

domain_name    = "play.example.com"
hosted_zone_id = "Z0000000000000000000"

# Verified TLS to Aurora once the image carries the RDS CA bundle (README,
# "Encryption in transit"); until then the URLs say sslmode=require and plan
# warns (check "database_tls_verified").
# db_ca_bundle_path = "/etc/ssl/rds/global-bundle.pem"

# While the DR region serves after a failover: serving = false (README,
# "Disaster recovery"), so that an apply here does not start tasks against
# what is then a read-only secondary.

alarm_emails = ["oncall@example.com"]
