"""The numbers deploy/aws promises, read from its parsed configuration.

Each value is read where it is set (a resource argument, a local, a variable
default, the tfvars); simple arithmetic over var.* and local.* (max, min,
ceil, + - * /) is evaluated here, for the defaults and for each tfvars file.
"""

import math
import re
import unittest

from hcleval import Evaluator, Unknown
from tfconfig import Stack, unq

S = Stack()
TFVARS = sorted(S.tfvars)


def expr(v):
    """The expression inside "${...}", or the literal."""
    if isinstance(v, str) and v.startswith("${") and v.endswith("}"):
        return v[2:-1]
    return unq(v)


def deep_unq(v):
    if isinstance(v, dict):
        return {k: deep_unq(x) for k, x in v.items() if k != "__is_block__"}
    if isinstance(v, list):
        return [deep_unq(x) for x in v]
    return unq(v)


def var_values(tfvars=None):
    vals = {name: deep_unq(body.get("default")) for name, body in S.variables.items()}
    if tfvars:
        for k, v in S.tfvars[tfvars].items():
            vals[k] = deep_unq(v)
    return vals


def bucket_of(body):
    """The aws_s3_bucket a bucket-level resource configures."""
    return re.search(r"aws_s3_bucket\.(\w+)", body["bucket"]).group(1)


def get_path(obj, path):
    for part in path:
        obj = obj[part]
    return obj


def evaluate(e, tfvars=None, depth=0):
    """Numeric value of an expression over var.*, local.*, max/min/ceil."""
    if isinstance(e, (int, float)):
        return e
    e = expr(e)
    if isinstance(e, (int, float)):
        return e
    vals = var_values(tfvars)

    def sub_var(m):
        return repr(get_path(vals, m.group(1).split(".")))

    def sub_local(m):
        return repr(evaluate(S.locals[m.group(1)], tfvars, depth + 1))

    assert depth < 20, e
    py = re.sub(r"\bvar\.([\w.]+)", sub_var, e)
    py = re.sub(r"\blocal\.(\w+)", sub_local, py)
    return eval(py, {"__builtins__": {}}, {"max": max, "min": min, "ceil": math.ceil})


def each_vars():
    """None (the defaults) and every tfvars file."""
    return [None] + TFVARS


def resources(typ):
    return S.of_type(typ)


def evaluator(tfvars=None, **override):
    """Terraform's view of the expressions for a tfvars file (and -var overrides)."""
    vals = var_values(tfvars)
    vals.update(override)
    return Evaluator(S.locals, vals)


def instances(ev):
    """(kind, type, name) -> how many instances, for every resource and data
    block whose count or for_each the evaluator can compute."""
    out, unknown = {}, []
    for kind, table in (("resource", S.resources), ("data", S.data)):
        for (typ, name), (body, _) in table.items():
            try:
                out[(kind, typ, name)] = ev.size(body)
            except Unknown:
                unknown.append((kind, typ, name, body.get("count", body.get("for_each"))))
    return out, unknown


class Network(unittest.TestCase):
    def test_at_least_two_zones(self):
        self.assertGreaterEqual(S.default("az_count"), 2)
        cond = S.variables["az_count"]["validation"][0]["condition"]
        self.assertIn("var.az_count >= 2", cond)
        for f in TFVARS:
            self.assertGreaterEqual(var_values(f)["az_count"], 2, f)
        for kind in ("public", "private"):
            subnet = S.resource("aws_subnet", kind)
            self.assertEqual(expr(subnet["count"]), "var.az_count")
            self.assertIn("local.azs[count.index]", subnet["availability_zone"])
        self.assertIn("slice(data.aws_availability_zones.available.names, 0, var.az_count)", S.locals["azs"])

    def test_vpc_cidr_and_nat_per_zone_in_production(self):
        self.assertEqual(unq(S.default("vpc_cidr")), "10.0.0.0/16")
        self.assertEqual(expr(S.resource("aws_nat_gateway", "main")["count"]), "local.nat_count")
        self.assertIn("var.nat_gateway_per_az ? var.az_count : 1", S.locals["nat_count"])
        self.assertTrue(var_values("production.tfvars")["nat_gateway_per_az"])

    def test_only_the_alb_reaches_the_api_and_only_tasks_the_stores(self):
        rule = S.resource("aws_vpc_security_group_ingress_rule", "api_from_alb")
        self.assertIn("aws_security_group.alb.id", rule["referenced_security_group_id"])
        ingress = resources("aws_vpc_security_group_ingress_rule")
        for name, body in ingress.items():
            self.assertNotIn("cidr_ipv4", body.keys() - {"__is_block__"} if name != "endpoints" else set(),
                             f"{name}: open to an address range")
        paths = S.locals["data_paths"]
        servers = {expr(v[1]) for v in paths.values()}
        self.assertEqual(servers, {"aws_security_group.db.id", "aws_security_group.redis.id",
                                   "aws_security_group.nats_nlb.id", "aws_security_group.nats.id",
                                   "aws_security_group.efs.id"})


class Compute(unittest.TestCase):
    def test_cpu_target_70_with_cooldowns(self):
        policy = S.resource("aws_appautoscaling_policy", "cpu")
        cfg = policy["target_tracking_scaling_policy_configuration"][0]
        self.assertEqual(expr(cfg["target_value"]), "each.value.cpu_target")
        metric = cfg["predefined_metric_specification"][0]["predefined_metric_type"]
        self.assertEqual(unq(metric), "ECSServiceAverageCPUUtilization")
        for f in each_vars():
            for role in ("api", "worker"):
                self.assertEqual(var_values(f)[role]["cpu_target"], 70, f"{f}: {role}")
            self.assertGreater(evaluate(cfg["scale_in_cooldown"], f), 0)
            self.assertGreater(evaluate(cfg["scale_out_cooldown"], f), 0)
        self.assertEqual(S.default("scale_in_cooldown"), 300)
        self.assertEqual(S.default("scale_out_cooldown"), 60)
        self.assertEqual(expr(policy["for_each"]), "local.scaled")
        self.assertEqual(set(S.locals["scaled"]), {"api", "worker"})

    def test_two_to_ten_tasks(self):
        target = S.resource("aws_appautoscaling_target", "role")
        self.assertEqual(expr(target["min_capacity"]), "local.serving ? each.value.min_tasks : 0")
        self.assertEqual(expr(target["max_capacity"]), "each.value.max_tasks")
        for role in ("api", "worker"):
            self.assertEqual(S.default(role)["min_tasks"], 2)
            self.assertEqual(S.default(role)["max_tasks"], 10)
            for f in TFVARS:
                v = var_values(f)[role]
                self.assertGreaterEqual(v["min_tasks"], 2, f"{f}: {role}")
                self.assertLessEqual(v["min_tasks"], v["max_tasks"], f"{f}: {role}")

    def test_tasks_spread_over_the_private_subnets(self):
        svc = S.resource("aws_ecs_service", "role")
        net = svc["network_configuration"][0]
        self.assertEqual(expr(net["subnets"]), "aws_subnet.private[*].id")
        self.assertFalse(net["assign_public_ip"])

    def test_rolling_deployments_roll_back(self):
        for name in ("role", "nats"):
            svc = S.resource("aws_ecs_service", name)
            cb = svc["deployment_circuit_breaker"][0]
            self.assertTrue(cb["enable"], name)
            self.assertTrue(cb["rollback"], name)
        svc = S.resource("aws_ecs_service", "role")
        self.assertEqual(svc["deployment_minimum_healthy_percent"], 100)
        self.assertEqual(svc["deployment_maximum_percent"], 200)

    def test_worker_on_fargate_spot_with_an_on_demand_base(self):
        cap = expr(S.locals["capacity"]["worker"])
        self.assertIn("FARGATE_SPOT", cap)
        self.assertIn("var.worker.spot_on_demand_base", cap)
        self.assertTrue(S.default("worker")["spot"])
        self.assertNotIn("SPOT", expr(S.locals["capacity"]["api"]))

    def test_a_service_per_role_and_a_migration_task(self):
        self.assertEqual(set(S.locals["desired"]), {"api", "worker", "relay"})
        self.assertEqual(S.locals["role_command"]["api"], ['"serve"', '"--roles"', '"api"'])
        self.assertEqual(S.locals["role_command"]["migrate"], ['"migrate"'])

    def test_ecr_scans_on_push_with_immutable_tags_and_a_lifecycle(self):
        repo = S.resource("aws_ecr_repository", "croupier")
        self.assertTrue(repo["image_scanning_configuration"][0]["scan_on_push"])
        self.assertEqual(unq(repo["image_tag_mutability"]), "IMMUTABLE")
        self.assertIn("aws_ecr_repository.croupier[0].name", S.resource("aws_ecr_lifecycle_policy", "croupier")["repository"])


class Drain(unittest.TestCase):
    """docs/deploy.md: the balancer notices before the listener closes."""

    def test_health_check_on_readyz_faster_than_the_drain(self):
        hc = S.resource("aws_lb_target_group", "api")["health_check"][0]
        self.assertEqual(unq(hc["path"]), "/readyz")
        for f in each_vars():
            interval = evaluate(hc["interval"], f)
            unhealthy = evaluate(hc["unhealthy_threshold"], f)
            drain = var_values(f)["api"]["drain_seconds"]
            self.assertLess(interval * unhealthy, drain, f)

    def test_deregistration_delay_outlasts_the_drain_and_covers_a_request(self):
        tg = S.resource("aws_lb_target_group", "api")
        for f in each_vars():
            delay = evaluate(tg["deregistration_delay"], f)
            self.assertGreater(delay, var_values(f)["api"]["drain_seconds"], f)
            self.assertGreaterEqual(delay * 1000, var_values(f)["request_timeout_ms"], f)

    def test_stop_timeout_covers_drain_and_grace(self):
        for f in each_vars():
            v = var_values(f)
            api = evaluate(S.locals["stop_timeout"]["api"], f)
            worker = evaluate(S.locals["stop_timeout"]["worker"], f)
            deadline = math.ceil(v["request_timeout_ms"] / 1000)
            self.assertGreaterEqual(api, v["api"]["drain_seconds"] + max(v["shutdown_grace_seconds"], deadline), f)
            self.assertGreaterEqual(worker, max(v["shutdown_grace_seconds"], deadline), f)
            self.assertLessEqual(api, 120, f"{f}: ECS caps stopTimeout at 120 s")
        self.assertEqual(evaluate(S.locals["stop_timeout"]["api"]), 50)  # the chart's derived value
        self.assertRegex(S.locals["croupier_container"], r"stopTimeout\s*=\s*local\.stop_timeout\[role\]")

    def test_the_api_drains_as_values_aws_yaml(self):
        self.assertEqual(S.default("api")["drain_seconds"], 15)
        env = S.locals["role_env"]["api"]
        self.assertIn("var.api.drain_seconds", env["CROUPIER_SHUTDOWN_DRAIN_SECS"])
        self.assertEqual(unq(env["CROUPIER_HTTP__TRUST_FORWARDED_FOR"]), "true")


class Observability(unittest.TestCase):
    def test_cpu_alarm_above_80_for_two_5_minute_periods(self):
        a = S.resource("aws_cloudwatch_metric_alarm", "service_cpu")
        self.assertEqual(unq(a["metric_name"]), "CPUUtilization")
        self.assertEqual(a["threshold"], 80)
        self.assertEqual(a["period"], 300)
        self.assertEqual(a["evaluation_periods"], 2)
        self.assertEqual(a["datapoints_to_alarm"], 2)
        self.assertEqual(unq(a["comparison_operator"]), "GreaterThanThreshold")
        self.assertIn("local.desired", a["for_each"])
        self.assertIn("aws_sns_topic.alarms.arn", a["alarm_actions"][0])

    def test_the_other_alarms_exist_and_notify(self):
        alarms = resources("aws_cloudwatch_metric_alarm")
        for name in ("alb_5xx_rate", "target_p99", "unhealthy_hosts", "aurora_cpu", "aurora_connections",
                     "aurora_replica_lag", "redis_memory", "redis_evictions"):
            self.assertIn(name, alarms)
            self.assertIn("aws_sns_topic.alarms.arn", alarms[name]["alarm_actions"][0], name)
        self.assertEqual(unq(alarms["target_p99"]["extended_statistic"]), "p99")

    def test_logs_kept_30_days_encrypted(self):
        groups = resources("aws_cloudwatch_log_group")
        self.assertGreaterEqual(len(groups), 7)
        for name, g in groups.items():
            self.assertEqual(expr(g["retention_in_days"]), "var.log_retention_days", name)
            self.assertIn("aws_kms_key.main.arn", g["kms_key_id"], name)
        for f in each_vars():
            self.assertEqual(var_values(f)["log_retention_days"], 30, f)

    def test_the_alert_rules_are_the_repository_s(self):
        ns = S.resource("aws_prometheus_rule_group_namespace", "croupier")
        self.assertIn("../observability/alerts.yml", ns["data"])
        # The scrape job is named as the alert rules expect (job="croupier").
        self.assertRegex(S.locals["adot_config"], r'job_name\s*=\s*"croupier"')


class Data(unittest.TestCase):
    def test_aurora_writer_and_readers_over_the_zones(self):
        inst = S.resource("aws_rds_cluster_instance", "main")
        self.assertEqual(expr(inst["count"]), "1 + var.aurora.readers")
        self.assertIn("count.index % var.az_count", inst["availability_zone"])
        for f in each_vars():
            self.assertGreaterEqual(var_values(f)["aurora"]["readers"], 1, f)
        self.assertIn("reader_endpoint", S.locals["reader_url"])
        self.assertIn("local.reader_url", S.locals["role_env"]["api"]["CROUPIER_DATABASE__REPLICA_URLS"])

    def test_aurora_backups_30_days_insights_protection(self):
        c = S.resource("aws_rds_cluster", "main")
        self.assertEqual(expr(c["backup_retention_period"]), "var.backup_retention_days")
        self.assertEqual(S.default("backup_retention_days"), 30)
        self.assertEqual(expr(c["deletion_protection"]), "local.production")
        self.assertTrue(S.resource("aws_rds_cluster_instance", "main")["performance_insights_enabled"])
        params = {unq(p["name"]): unq(p["value"]) for p in S.resource("aws_rds_cluster_parameter_group", "main")["parameter"]}
        self.assertEqual(params["rds.force_ssl"], "1")

    def test_redis_replica_in_another_zone_with_failover(self):
        r = S.resource("aws_elasticache_replication_group", "main")
        self.assertTrue(r["automatic_failover_enabled"])
        self.assertTrue(r["multi_az_enabled"])
        self.assertIn("local.azs[i % var.az_count]", r["preferred_cache_cluster_azs"])
        for f in each_vars():
            self.assertGreaterEqual(var_values(f)["redis"]["nodes"], 2, f)
            self.assertTrue(var_values(f)["redis"]["version"].startswith("7"), f)
        self.assertIn("random_password.redis.result", r["auth_token"])

    def test_postgres_and_redis_speak_tls(self):
        # Aurora refuses plaintext; every URL the tasks get asks for TLS,
        # verified once the image carries the RDS CA bundle.
        params = {unq(p["name"]): unq(p["value"]) for p in S.resource("aws_rds_cluster_parameter_group", "main")["parameter"]}
        self.assertEqual(params["rds.force_ssl"], "1")
        for f in each_vars():
            ev = evaluator(f)
            self.assertEqual(ev.local("db_tls"), "sslmode=require", f)
            for url in ("writer_url", "reader_url"):
                self.assertTrue(S.locals[url].endswith('?${local.db_tls}"'), url)
        ev = evaluator(db_ca_bundle_path="/etc/ssl/rds/global-bundle.pem")
        self.assertEqual(ev.local("db_tls"), "sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem")
        self.assertRegex(S.locals["common_env"], r"CROUPIER_DATABASE_URL\s*=\s*local\.writer_url\b")
        for role in ("api", "worker"):
            self.assertIn("local.reader_url", S.locals["role_env"][role]["CROUPIER_DATABASE__REPLICA_URLS"])
        # Redis: TLS only, and the URL says so.
        r = S.resource("aws_elasticache_replication_group", "main")
        self.assertTrue(r["transit_encryption_enabled"])
        self.assertEqual(expr(r["transit_encryption_mode"]), "var.redis.transit_tls")
        for f in each_vars():
            self.assertEqual(var_values(f)["redis"]["transit_tls"], "required", f)
        url = S.resource("aws_secretsmanager_secret_version", "redis")["secret_string"]
        self.assertRegex(url, r'url\s*=\s*"rediss://:')
        self.assertNotIn("redis://", url)

    def test_nats_three_nodes_over_the_zones_on_efs(self):
        self.assertEqual(S.locals["nats_nodes"], 3)
        svc = S.resource("aws_ecs_service", "nats")
        self.assertIn("count.index % var.az_count", svc["network_configuration"][0]["subnets"][0])
        self.assertEqual(svc["deployment_minimum_healthy_percent"], 0)
        self.assertEqual(svc["deployment_maximum_percent"], 100)
        vol = S.resource("aws_ecs_task_definition", "nats")["volume"][0]["efs_volume_configuration"][0]
        self.assertEqual(unq(vol["transit_encryption"]), "ENABLED")
        self.assertIn("CROUPIER_NATS__REPLICAS", S.locals["role_env"]["worker"])

    def test_encryption_everywhere(self):
        self.assertTrue(S.resource("aws_rds_cluster", "main")["storage_encrypted"])
        self.assertIn("aws_kms_key.main.arn", S.resource("aws_rds_cluster", "main")["kms_key_id"])
        self.assertTrue(S.resource("aws_rds_global_cluster", "main")["storage_encrypted"])
        r = S.resource("aws_elasticache_replication_group", "main")
        self.assertTrue(r["at_rest_encryption_enabled"])
        self.assertTrue(r["transit_encryption_enabled"])
        self.assertTrue(S.resource("aws_efs_file_system", "nats")["encrypted"])
        for name, k in resources("aws_kms_key").items():
            self.assertTrue(k["enable_key_rotation"], name)
        # Every bucket has its encryption configuration.
        sse = {bucket_of(b) for b in resources("aws_s3_bucket_server_side_encryption_configuration").values()}
        self.assertEqual(sse, set(resources("aws_s3_bucket")))
        for typ, key in (("aws_secretsmanager_secret", "kms_key_id"), ("aws_sns_topic", "kms_master_key_id"),
                         ("aws_backup_vault", "kms_key_arn"), ("aws_prometheus_workspace", "kms_key_arn"),
                         ("aws_efs_file_system", "kms_key_id")):
            for name, body in resources(typ).items():
                self.assertIn("aws_kms_key.", body[key], f"{typ}.{name}")
        self.assertEqual(unq(S.resource("aws_ecr_repository", "croupier")["encryption_configuration"][0]["encryption_type"]), "KMS")
        for name, bucket in resources("aws_s3_bucket_public_access_block").items():
            self.assertTrue(all(bucket[k] for k in ("block_public_acls", "block_public_policy",
                                                    "ignore_public_acls", "restrict_public_buckets")), name)


class DisasterRecovery(unittest.TestCase):
    """The DR region's stack (production-dr.tfvars) and its promotion."""

    # What only the primary's state may own: one of each in the world.
    SINGLETONS = [
        ("resource", "aws_rds_global_cluster", "main"),
        ("resource", "random_password", "db"),
        ("resource", "aws_secretsmanager_secret", "db"),
        ("resource", "aws_secretsmanager_secret_version", "db"),
        ("resource", "random_password", "origin_header"),
        ("resource", "aws_secretsmanager_secret", "origin_header"),
        ("resource", "aws_cloudfront_distribution", "main"),
        ("resource", "aws_acm_certificate", "edge"),
        ("resource", "aws_route53_record", "edge"),
        ("resource", "aws_ecr_repository", "croupier"),
        ("resource", "aws_ecr_replication_configuration", "dr"),
        ("resource", "aws_kms_key", "dr"),
        ("resource", "aws_backup_vault", "main"),
        ("resource", "aws_backup_vault", "copy"),
        ("resource", "aws_backup_plan", "main"),
        ("resource", "aws_s3_bucket", "backups_replica"),
    ]
    DR = "production-dr.tfvars"

    def test_promoting_the_standby_creates_and_destroys_nothing(self):
        prod, unknown = instances(evaluator("production.tfvars"))
        standby, _ = instances(evaluator(self.DR))
        promoted, _ = instances(evaluator(self.DR, serving=True))
        # Whatever depends on the role or on serving can be computed here.
        for kind, typ, name, how in unknown:
            self.assertNotRegex(str(how), r"standby|primary|serving", f"{typ}.{name}")
        self.assertTrue(var_values(self.DR)["standby"])
        self.assertIs(var_values(self.DR)["serving"], False)
        for key in self.SINGLETONS:
            self.assertGreaterEqual(prod[key], 1, key)
            self.assertEqual(standby[key], 0, f"the standby creates {key}")
            self.assertEqual(promoted[key], 0, f"the promoted standby creates {key}")
        # Serving changes the services' counts, never what exists.
        self.assertEqual(promoted, standby)
        # Nothing in the DR stack lives in another region (the failed one, or
        # CloudFront's us-east-1).
        for (typ, name), (body, _) in list(S.resources.items()) + list(S.data.items()):
            if "region" in body:
                kind = "resource" if (typ, name) in S.resources else "data"
                self.assertEqual(promoted[(kind, typ, name)], 0, f"{typ}.{name} in {expr(body['region'])}")
        # Its database stays in the global cluster (promoted by the AWS CLI);
        # its origin record stays SECONDARY, the primary's PRIMARY.
        for ev in (evaluator(self.DR), evaluator(self.DR, serving=True)):
            self.assertEqual(ev.value(S.resource("aws_rds_cluster", "main")["global_cluster_identifier"]),
                             "croupier-production")
            self.assertIsNone(ev.value(S.resource("aws_rds_cluster", "main")["master_password"]))
            rec = S.resource("aws_route53_record", "origin")["failover_routing_policy"][0]["type"]
            self.assertEqual(ev.value(rec), "SECONDARY")
        self.assertEqual(evaluator("production.tfvars").value(rec), "PRIMARY")
        # What promotion does change: the services run.
        v = var_values(self.DR)
        self.assertEqual(evaluator(self.DR).local("desired"), {"api": 0, "worker": 0, "relay": 0})
        self.assertEqual(evaluator(self.DR, serving=True).local("desired"),
                         {"api": v["api"]["min_tasks"], "worker": v["worker"]["min_tasks"], "relay": v["relay"]["tasks"]})
        self.assertEqual(evaluator("production.tfvars", serving=False).local("desired"), {"api": 0, "worker": 0, "relay": 0})
        self.assertEqual(expr(S.resource("aws_appautoscaling_target", "relay")["min_capacity"]), 'local.desired["relay"]')

    def test_the_dr_region_watches_the_global_replication_lag(self):
        a = S.resource("aws_cloudwatch_metric_alarm", "aurora_global_lag")
        self.assertEqual(unq(a["namespace"]), "AWS/RDS")
        self.assertEqual(unq(a["metric_name"]), "AuroraGlobalDBReplicationLag")
        self.assertEqual(expr(a["dimensions"]["DBClusterIdentifier"]), "aws_rds_cluster.main.cluster_identifier")
        self.assertLessEqual(a["threshold"], 10000)  # ms: the region-loss RPO's budget
        self.assertLessEqual(a["period"] * a["evaluation_periods"], 300)
        self.assertIn("aws_sns_topic.alarms.arn", a["alarm_actions"][0])
        alarm = ("resource", "aws_cloudwatch_metric_alarm", "aurora_global_lag")
        self.assertEqual(instances(evaluator(self.DR))[0][alarm], 1)
        self.assertEqual(instances(evaluator("production.tfvars"))[0][alarm], 0)
        # No data from a standby is a problem too: replication has stopped.
        self.assertEqual(evaluator(self.DR).value(a["treat_missing_data"]), "breaching")
        self.assertEqual(evaluator(self.DR, serving=True).value(a["treat_missing_data"]), "notBreaching")


class Backup(unittest.TestCase):
    def test_daily_at_0200_utc_kept_30_days_copied_to_another_region(self):
        rule = S.resource("aws_backup_plan", "main")["rule"][0]
        self.assertEqual(unq(rule["schedule"]), "cron(0 2 * * ? *)")
        self.assertEqual(unq(rule.get("schedule_expression_timezone", '"Etc/UTC"')), "Etc/UTC")
        self.assertEqual(expr(rule["lifecycle"][0]["delete_after"]), "var.backup_retention_days")
        copy = rule["copy_action"][0]
        self.assertIn("aws_backup_vault.copy", copy["destination_vault_arn"])
        self.assertEqual(expr(copy["lifecycle"][0]["delete_after"]), "var.backup_retention_days")
        self.assertEqual(expr(S.resource("aws_backup_vault", "copy")["region"]), "var.dr_region")
        for f in each_vars():
            self.assertEqual(var_values(f)["backup_retention_days"], 30, f)
        for f in TFVARS:
            v = var_values(f)
            self.assertNotEqual(v["region"], v["dr_region"], f)
        sel = S.resource("aws_backup_selection", "main")["resources"]
        self.assertIn("aws_rds_cluster.main.arn", sel[0] + sel[1])

    def test_backup_bucket_replicated_to_the_dr_region(self):
        rep = S.resource("aws_s3_bucket_replication_configuration", "backups")
        self.assertIn("aws_s3_bucket.backups.id", rep["bucket"])
        self.assertIn("aws_s3_bucket.backups_replica", rep["rule"][0]["destination"][0]["bucket"])
        self.assertEqual(expr(S.resource("aws_s3_bucket", "backups_replica")["region"]), "var.dr_region")

    def test_buckets_versioned_with_lifecycle_to_cheaper_storage(self):
        versioned = {bucket_of(b) for b in resources("aws_s3_bucket_versioning").values()}
        self.assertEqual(versioned, set(resources("aws_s3_bucket")))
        lifecycle = {bucket_of(b) for b in resources("aws_s3_bucket_lifecycle_configuration").values()}
        self.assertEqual(lifecycle, set(resources("aws_s3_bucket")))
        for name, lc in resources("aws_s3_bucket_lifecycle_configuration").items():
            classes = [unq(t["storage_class"]) for t in lc["rule"][0].get("transition", [])]
            self.assertIn("STANDARD_IA", classes, name)


class Edge(unittest.TestCase):
    def test_waf_managed_groups_and_a_rate_rule_on_the_alb(self):
        acl = S.resource("aws_wafv2_web_acl", "main")
        self.assertEqual(unq(acl["scope"]), "REGIONAL")
        groups = set()
        rate = None
        for rule in acl["rule"]:
            st = rule["statement"][0]
            if "managed_rule_group_statement" in st:
                groups.add(unq(st["managed_rule_group_statement"][0]["name"]))
            if "rate_based_statement" in st:
                rate = st["rate_based_statement"][0]
        self.assertEqual(groups, {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                                  "AWSManagedRulesSQLiRuleSet"})
        self.assertIsNotNone(rate)
        self.assertEqual(expr(rate["limit"]), "var.waf_rate_limit")
        assoc = S.resource("aws_wafv2_web_acl_association", "alb")
        self.assertIn("aws_lb.main.arn", assoc["resource_arn"])

    def test_http_redirects_to_https(self):
        http = S.resource("aws_lb_listener", "http")
        self.assertEqual(http["port"], 80)
        action = http["default_action"][0]
        self.assertEqual(unq(action["type"]), "redirect")
        redirect = action["redirect"][0]
        self.assertEqual(unq(redirect["protocol"]), "HTTPS")
        self.assertEqual(unq(redirect["port"]), "443")
        self.assertEqual(unq(redirect["status_code"]), "HTTP_301")
        https = S.resource("aws_lb_listener", "https")
        self.assertEqual(unq(https["protocol"]), "HTTPS")
        self.assertIn("TLS13", https["ssl_policy"])
        cf = S.resource("aws_cloudfront_distribution", "main")
        self.assertEqual(unq(cf["default_cache_behavior"][0]["viewer_protocol_policy"]), "redirect-to-https")

    def test_cloudfront_caches_assets_not_the_api(self):
        cf = S.resource("aws_cloudfront_distribution", "main")
        self.assertIn("disabled", cf["default_cache_behavior"][0]["cache_policy_id"])
        assets = cf["ordered_cache_behavior"][0]
        self.assertEqual(unq(assets["path_pattern"]), "/assets/*")
        self.assertIn("optimized", assets["cache_policy_id"])
        self.assertIn("route53", "".join(t for t, _ in S.resources))


class Tags(unittest.TestCase):
    def test_default_tags_on_the_provider(self):
        (name, provider), = [p for p in S.providers if p[0] == "aws"]
        self.assertEqual(expr(provider["default_tags"][0]["tags"]), "local.tags")
        self.assertEqual(set(S.locals["tags"]), {"project", "environment", "owner", '"cost-center"'})
        for f in TFVARS:
            v = var_values(f)
            for k in ("environment", "owner", "cost_center"):
                self.assertTrue(v.get(k), f"{f}: {k}")

    def test_provider_versions(self):
        req = S.terraform[0]["required_providers"][0]["aws"]
        self.assertEqual(unq(req["version"]), "~> 6.0")
        self.assertEqual(unq(S.terraform[0]["required_version"]), ">= 1.6")


if __name__ == "__main__":
    unittest.main()
