output "alb_dns_name" {
  description = "The ALB (reached only through CloudFront)."
  value       = aws_lb.main.dns_name
}

output "cloudfront_domain_name" {
  description = "The distribution domain_name points at (primary only)."
  value       = local.primary ? aws_cloudfront_distribution.main[0].domain_name : null
}

output "url" {
  description = "Where players go."
  value       = "https://${var.domain_name}/"
}

output "ecr_repository_url" {
  description = "Push the image here (docker push <url>:<tag>), then deploy.sh <tag>."
  value       = local.primary ? aws_ecr_repository.croupier[0].repository_url : null
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "migrate_task_definition" {
  description = "Family of the one-off migration task (deploy.sh runs it)."
  value       = aws_ecs_task_definition.role["migrate"].family
}

output "private_subnet_ids" {
  description = "Where the migration task runs."
  value       = aws_subnet.private[*].id
}

output "worker_security_group_id" {
  description = "The security group the migration task runs with (reaches PostgreSQL)."
  value       = aws_security_group.worker.id
}

output "aurora_writer_endpoint" {
  description = "The writer."
  value       = aws_rds_cluster.main.endpoint
}

output "database_url" {
  description = "CROUPIER_DATABASE_URL as the tasks get it (no password: PGPASSWORD is the database secret). From a host in the VPC, point sslrootcert at that host's copy of the RDS CA bundle."
  value       = local.writer_url
}

output "aurora_reader_endpoint" {
  description = "The readers (Croupier's database.replica_urls)."
  value       = aws_rds_cluster.main.reader_endpoint
}

output "aurora_global_cluster_id" {
  description = "The global cluster (the standby's aurora_global_cluster_id)."
  value       = try(aws_rds_global_cluster.main[0].id, null)
}

output "redis_primary_endpoint" {
  description = "ElastiCache's primary endpoint."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "nats_endpoint" {
  description = "The NATS cluster's internal NLB."
  value       = aws_lb.nats.dns_name
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm: subscribe the pager here."
  value       = aws_sns_topic.alarms.arn
}

output "prometheus_endpoint" {
  description = "Amazon Managed Prometheus query endpoint (a Grafana data source for deploy/observability/grafana-dashboard.json)."
  value       = aws_prometheus_workspace.main.prometheus_endpoint
}

output "export_bucket" {
  description = "The analytics export bucket."
  value       = aws_s3_bucket.export.id
}

output "backups_bucket" {
  description = "The backups bucket (replicated to the DR region)."
  value       = aws_s3_bucket.backups.id
}
