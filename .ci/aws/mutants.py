"""Each test of test_stack.py must be able to fail: break the stack on purpose,
one way per test, in a copy, and require that test to fail.

Usage: python mutants.py   (from .ci/aws, with python-hcl2 installed)
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = os.path.join(HERE, "..", "..", "deploy", "aws")

# (test, file, text, replacement)
MUTANTS = [
    ("Network.test_at_least_two_zones", "variables.tf", "default     = 3\n  validation {\n    condition     = var.az_count >= 2", "default     = 1\n  validation {\n    condition     = var.az_count >= 1"),
    ("Network.test_vpc_cidr_and_nat_per_zone_in_production", "production.tfvars", "nat_gateway_per_az = true", "nat_gateway_per_az = false"),
    ("Network.test_only_the_alb_reaches_the_api_and_only_tasks_the_stores", "security_groups.tf", "  referenced_security_group_id = aws_security_group.alb.id\n}", "  cidr_ipv4 = \"0.0.0.0/0\"\n}"),
    ("Compute.test_cpu_target_70_with_cooldowns", "variables.tf", "cpu_target    = 70", "cpu_target    = 90"),
    ("Compute.test_two_to_ten_tasks", "staging.tfvars", "min_tasks     = 2", "min_tasks     = 1"),
    ("Compute.test_tasks_spread_over_the_private_subnets", "ecs.tf", "subnets          = aws_subnet.private[*].id", "subnets          = [aws_subnet.private[0].id]"),
    ("Compute.test_rolling_deployments_roll_back", "nats.tf", "    rollback = true", "    rollback = false"),
    ("Compute.test_worker_on_fargate_spot_with_an_on_demand_base", "ecs.tf", "provider = \"FARGATE_SPOT\"", "provider = \"FARGATE\""),
    ("Compute.test_a_service_per_role_and_a_migration_task", "ecs.tf", "    relay  = local.serving ? var.relay.tasks : 0\n", ""),
    ("Compute.test_ecr_scans_on_push_with_immutable_tags_and_a_lifecycle", "ecr.tf", "scan_on_push = true", "scan_on_push = false"),
    ("Drain.test_health_check_on_readyz_faster_than_the_drain", "main.tf", "health_check_unhealthy = 2", "health_check_unhealthy = 3"),
    ("Drain.test_deregistration_delay_outlasts_the_drain_and_covers_a_request", "main.tf", "max(var.api.drain_seconds + 5, local.request_deadline)", "var.api.drain_seconds"),
    ("Drain.test_stop_timeout_covers_drain_and_grace", "main.tf", "api_stop_timeout    = var.api.drain_seconds + ", "api_stop_timeout    = "),
    ("Drain.test_the_api_drains_as_values_aws_yaml", "variables.tf", "drain_seconds = 15", "drain_seconds = 12"),
    ("Observability.test_cpu_alarm_above_80_for_two_5_minute_periods", "observability.tf", "  threshold           = 80\n  comparison_operator = \"GreaterThanThreshold\"\n  treat_missing_data  = \"notBreaching\"\n  alarm_actions       = [aws_sns_topic.alarms.arn]\n  ok_actions          = [aws_sns_topic.alarms.arn]\n}\n\n# --- ALB", "  threshold           = 90\n  comparison_operator = \"GreaterThanThreshold\"\n  treat_missing_data  = \"notBreaching\"\n  alarm_actions       = [aws_sns_topic.alarms.arn]\n  ok_actions          = [aws_sns_topic.alarms.arn]\n}\n\n# --- ALB"),
    ("Observability.test_the_other_alarms_exist_and_notify", "observability.tf", "extended_statistic  = \"p99\"", "extended_statistic  = \"p90\""),
    ("Observability.test_logs_kept_30_days_encrypted", "variables.tf", "default     = 30\n}\n\nvariable \"adot_image\"", "default     = 14\n}\n\nvariable \"adot_image\""),
    ("Observability.test_the_alert_rules_are_the_repository_s", "observability.tf", "../observability/alerts.yml", "alerts.yml"),
    ("Data.test_aurora_writer_and_readers_over_the_zones", "production.tfvars", "az_count    = 3", "az_count    = 3\naurora = {\n  engine_version  = \"16.6\"\n  instance_class  = \"db.r6g.large\"\n  readers         = 0\n  global_database = true\n}"),
    ("Data.test_aurora_backups_30_days_insights_protection", "data.tf", "value = \"1\"\n  }\n  # Schema", "value = \"0\"\n  }\n  # Schema"),
    ("Data.test_redis_replica_in_another_zone_with_failover", "data.tf", "multi_az_enabled            = true", "multi_az_enabled            = false"),
    ("Data.test_postgres_and_redis_speak_tls", "secrets.tf", "url = \"rediss://:", "url = \"redis://:"),
    ("Data.test_postgres_and_redis_speak_tls", "ecs.tf", "\"sslmode=require\"", "\"sslmode=prefer\""),
    ("Data.test_postgres_and_redis_speak_tls", "variables.tf", "transit_tls = \"required\"\n  }", "transit_tls = \"preferred\"\n  }"),
    ("Data.test_nats_three_nodes_over_the_zones_on_efs", "nats.tf", "deployment_minimum_healthy_percent = 0", "deployment_minimum_healthy_percent = 50"),
    ("Data.test_encryption_everywhere", "data.tf", "at_rest_encryption_enabled  = true", "at_rest_encryption_enabled  = false"),
    ("DisasterRecovery.test_promoting_the_standby_creates_and_destroys_nothing", "main.tf", "primary    = !var.standby\n", "primary    = var.serving == null ? !var.standby : var.serving\n"),
    ("DisasterRecovery.test_promoting_the_standby_creates_and_destroys_nothing", "ecs.tf", "    api    = local.serving ? var.api.min_tasks : 0", "    api    = var.standby ? 0 : var.api.min_tasks"),
    ("DisasterRecovery.test_promoting_the_standby_creates_and_destroys_nothing", "dns.tf", "type = local.primary ? \"PRIMARY\" : \"SECONDARY\"", "type = local.serving ? \"PRIMARY\" : \"SECONDARY\""),
    ("DisasterRecovery.test_promoting_the_standby_creates_and_destroys_nothing", "data.tf", "count                     = local.primary && var.aurora.global_database ? 1 : 0", "count                     = var.aurora.global_database ? 1 : 0"),
    ("DisasterRecovery.test_the_dr_region_watches_the_global_replication_lag", "observability.tf", "metric_name         = \"AuroraGlobalDBReplicationLag\"", "metric_name         = \"AuroraReplicaLag\""),
    ("DisasterRecovery.test_the_dr_region_watches_the_global_replication_lag", "observability.tf", "treat_missing_data  = local.serving ? \"notBreaching\" : \"breaching\"", "treat_missing_data  = \"notBreaching\""),
    ("Backup.test_daily_at_0200_utc_kept_30_days_copied_to_another_region", "backup.tf", "cron(0 2 * * ? *)", "cron(0 3 * * ? *)"),
    ("Backup.test_backup_bucket_replicated_to_the_dr_region", "s3.tf", "bucket        = aws_s3_bucket.backups_replica[0].arn", "bucket        = aws_s3_bucket.export.arn"),
    ("Backup.test_buckets_versioned_with_lifecycle_to_cheaper_storage", "s3.tf", "bucket = aws_s3_bucket.logs.id\n  versioning_configuration", "bucket = aws_s3_bucket.export.id\n  versioning_configuration"),
    ("Edge.test_waf_managed_groups_and_a_rate_rule_on_the_alb", "waf.tf", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesLinuxRuleSet"),
    ("Edge.test_http_redirects_to_https", "alb.tf", "status_code = \"HTTP_301\"", "status_code = \"HTTP_302\""),
    ("Edge.test_cloudfront_caches_assets_not_the_api", "cdn.tf", "path_pattern               = \"/assets/*\"", "path_pattern               = \"/v1/*\""),
    ("Tags.test_default_tags_on_the_provider", "main.tf", "    \"cost-center\" = var.cost_center\n", ""),
    ("Tags.test_provider_versions", "versions.tf", "version = \"~> 6.0\"", "version = \"~> 5.0\""),
]


def tests():
    out = subprocess.run([sys.executable, "-c", "import unittest, test_stack;"
                          "s = unittest.defaultTestLoader.loadTestsFromModule(test_stack);"
                          "print('\\n'.join(t.id() for g in s for t in g))"],
                         cwd=HERE, capture_output=True, text=True, check=True)
    return {t.split(".", 1)[1] for t in out.stdout.split()}


def main():
    missing = tests() - {m[0] for m in MUTANTS}
    if missing:
        sys.exit(f"aws: mutants: no mutant for {sorted(missing)}")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for test, name, old, new in MUTANTS:
            copy = os.path.join(tmp, "aws")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(STACK, copy)
            # alerts.yml is read by path relative to the stack.
            path = os.path.join(copy, name)
            text = open(path).read()
            if text.count(old) != 1:
                failed.append(f"{test}: the text to break is not in {name} exactly once")
                continue
            open(path, "w").write(text.replace(old, new))
            r = subprocess.run([sys.executable, "-m", "unittest", f"test_stack.{test}"], cwd=HERE,
                               env={**os.environ, "AWS_STACK_DIR": copy}, capture_output=True, text=True)
            if r.returncode == 0:
                failed.append(f"{test}: still passes with {name} broken")
    for f in failed:
        print(f"aws: mutants: {f}", file=sys.stderr)
    if failed:
        sys.exit(1)
    print(f"{len(MUTANTS)} mutants, each caught by its test")


if __name__ == "__main__":
    main()
