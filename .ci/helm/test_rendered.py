"""The chart's promises, checked on what `helm template` rendered.

.ci/helm/run renders each values set to $HELM_RENDERED/<set>.yaml:
  default   values.yaml (the scaled setup)
  minimal   + values-minimal.yaml (embedded SQLite, one pod)
  aws       + values-aws.yaml (ALB, ExternalSecret, Prometheus Operator)
  variants  + .ci/helm/values-variants.yaml (init-container migrations, a
            preStop sleep, a separate relay, egress rules, a rich config)
Each test reads the manifests only (not the values), so it checks what a
cluster would get.
"""
import copy
import math
import os
import tomllib
import unittest

import yaml

RENDERED = os.environ.get("HELM_RENDERED", os.path.join(os.path.dirname(__file__), ".cache", "rendered"))
CHART = os.environ.get(
    "CHART_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "helm", "croupier")
)
HERE = os.path.dirname(os.path.abspath(__file__))
SETS = ("default", "minimal", "aws", "variants")
VALUES_FILES = {
    "default": [],
    "minimal": [os.path.join(CHART, "values-minimal.yaml")],
    "aws": [os.path.join(CHART, "values-aws.yaml")],
    "variants": [os.path.join(HERE, "values-variants.yaml")],
}
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def load(name):
    with open(os.path.join(RENDERED, f"{name}.yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]


DOCS = {name: load(name) for name in SETS}


def of_kind(name, kind):
    return [d for d in DOCS[name] if d["kind"] == kind]


def one(name, kind, component=None):
    found = [
        d
        for d in of_kind(name, kind)
        if component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"{name}: {len(found)} {kind} {component or ''}"
    return found[0]


def deployments(name):
    return of_kind(name, "Deployment")


def component(doc):
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def pod_specs(name):
    """(label, pod spec, pod labels) of every workload: Deployments and Jobs."""
    for d in DOCS[name]:
        if d["kind"] in ("Deployment", "Job"):
            t = d["spec"]["template"]
            yield f"{name}/{d['kind']}/{d['metadata']['name']}", t["spec"], t["metadata"]["labels"]


def env(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def main_container(deployment):
    (c,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "croupier"]
    return c


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def config_toml(name):
    return tomllib.loads(one(name, "ConfigMap")["data"]["config.toml"])


def merged_values(name):
    """values.yaml with the set's files on top, as Helm merges them."""

    def merge(base, top):
        for k, v in top.items():
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                merge(base[k], v)
            elif v is None:
                base.pop(k, None)
            else:
                base[k] = copy.deepcopy(v)
        return base

    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    for path in VALUES_FILES[name]:
        with open(path) as f:
            merge(values, yaml.safe_load(f))
    return values


class Layout(unittest.TestCase):
    def roles(self, name):
        return {component(d): env(main_container(d))["CROUPIER_ROLES"] for d in deployments(name)}

    def test_one_deployment_per_role_where_the_design_puts_the_relay(self):
        self.assertEqual(self.roles("default"), {"api": "api", "worker": "worker,relay"})
        self.assertEqual(self.roles("aws"), {"api": "api", "worker": "worker", "relay": "relay"})
        self.assertEqual(self.roles("minimal"), {"api": "api,worker,relay"})

    def test_split_worker_and_relay_get_nats_and_the_api_does_not(self):
        for name in ("default", "aws", "variants"):
            for d in deployments(name):
                e = env(main_container(d))
                wants_nats = any(r in e["CROUPIER_ROLES"].split(",") for r in ("worker", "relay"))
                self.assertEqual("CROUPIER_NATS_URL_FILE" in e, wants_nats, f"{name}/{component(d)}")
                self.assertIn("CROUPIER_DATABASE_URL_FILE", e)
                self.assertIn("CROUPIER_REDIS_URL_FILE", e)

    def test_minimal_is_one_pod_on_sqlite_with_its_data_on_a_claim(self):
        (d,) = deployments("minimal")
        self.assertEqual(d["spec"]["replicas"], 1)
        self.assertEqual(d["spec"]["strategy"]["type"], "Recreate")
        self.assertEqual(of_kind("minimal", "HorizontalPodAutoscaler"), [])
        self.assertEqual(of_kind("minimal", "PodDisruptionBudget"), [])
        self.assertEqual(of_kind("minimal", "Job"), [])
        e = env(main_container(d))
        self.assertFalse([k for k in e if k.endswith("_URL_FILE")], "no URL at all: the embedded store")
        self.assertEqual(e["CROUPIER_DATA_DIR"], "/data")
        spec = d["spec"]["template"]["spec"]
        (data,) = [v for v in spec["volumes"] if v["name"] == "data"]
        claim = one("minimal", "PersistentVolumeClaim")
        self.assertEqual(data["persistentVolumeClaim"]["claimName"], claim["metadata"]["name"])
        self.assertIn({"name": "data", "mountPath": "/data"}, main_container(d)["volumeMounts"])

    def test_scaled_pods_get_a_writable_data_dir_and_tmp(self):
        for name in ("default", "aws"):
            for d in deployments(name):
                mounts = {m["mountPath"] for m in main_container(d)["volumeMounts"]}
                self.assertLessEqual({"/data", "/tmp", "/etc/croupier"}, mounts)


class Scheduling(unittest.TestCase):
    def test_every_deployment_spreads_over_zones_and_nodes(self):
        for name in SETS:
            for d in deployments(name):
                spec = d["spec"]["template"]["spec"]
                labels = d["spec"]["template"]["metadata"]["labels"]
                spread = {c["topologyKey"]: c for c in spec.get("topologySpreadConstraints", [])}
                self.assertLessEqual({ZONE, HOST}, set(spread), f"{name}/{component(d)}")
                for c in spread.values():
                    self.assertEqual(c["maxSkew"], 1)
                    self.assertTrue(selects(c["labelSelector"]["matchLabels"], labels))
                    self.assertEqual(c["labelSelector"]["matchLabels"], d["spec"]["selector"]["matchLabels"])
                    self.assertIn("pod-template-hash", c.get("matchLabelKeys", []))
                if name != "minimal":
                    self.assertEqual(spread[ZONE]["whenUnsatisfiable"], "DoNotSchedule", f"{name}: a hard zone spread")

    def test_every_deployment_prefers_one_pod_of_its_role_per_node(self):
        for name in SETS:
            for d in deployments(name):
                anti = d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
                self.assertEqual(term["podAffinityTerm"]["topologyKey"], HOST)
                self.assertEqual(
                    term["podAffinityTerm"]["labelSelector"]["matchLabels"], d["spec"]["selector"]["matchLabels"]
                )

    def test_every_scaled_deployment_has_a_pdb_that_selects_it_alone_and_allows_a_drain(self):
        for name in ("default", "aws", "variants"):
            pdbs = of_kind(name, "PodDisruptionBudget")
            for d in deployments(name):
                labels = d["spec"]["template"]["metadata"]["labels"]
                mine = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], labels)]
                self.assertEqual(len(mine), 1, f"{name}/{component(d)}")
                (pdb,) = mine
                for other in deployments(name):
                    if other is not d:
                        self.assertFalse(
                            selects(pdb["spec"]["selector"]["matchLabels"], other["spec"]["template"]["metadata"]["labels"])
                        )
                spec = pdb["spec"]
                self.assertEqual(len({"minAvailable", "maxUnavailable"} & set(spec)), 1)
                if "maxUnavailable" in spec:
                    self.assertGreaterEqual(spec["maxUnavailable"], 1)
                else:
                    self.assertLess(spec["minAvailable"], self.fewest_replicas(name, d))

    def fewest_replicas(self, name, d):
        for h in of_kind(name, "HorizontalPodAutoscaler"):
            if h["spec"]["scaleTargetRef"]["name"] == d["metadata"]["name"]:
                return h["spec"]["minReplicas"]
        return d["spec"]["replicas"]


class Autoscaling(unittest.TestCase):
    def test_default_hpas_target_70_percent_cpu_from_2_to_10_with_a_scale_down_window(self):
        hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("default", "HorizontalPodAutoscaler")}
        for d in deployments("default"):
            h = hpas[d["metadata"]["name"]]["spec"]
            self.assertEqual(h["scaleTargetRef"]["kind"], "Deployment")
            self.assertEqual((h["minReplicas"], h["maxReplicas"]), (2, 10))
            cpu = [m for m in h["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
            self.assertEqual(cpu[0]["resource"]["target"], {"type": "Utilization", "averageUtilization": 70})
            self.assertGreater(h["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 0)

    def test_an_autoscaled_deployment_leaves_replicas_to_its_hpa(self):
        for name in SETS:
            targets = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(name, "HorizontalPodAutoscaler")}
            names = {d["metadata"]["name"] for d in deployments(name)}
            self.assertLessEqual(targets, names, "every HPA scales a Deployment of the release")
            for d in deployments(name):
                self.assertEqual("replicas" in d["spec"], d["metadata"]["name"] not in targets)

    def test_extra_metrics_are_appended_after_cpu(self):
        hpas = {component(h): h["spec"]["metrics"] for h in of_kind("variants", "HorizontalPodAutoscaler")}
        self.assertEqual([m["type"] for m in hpas["api"]], ["Resource", "Pods"])
        self.assertEqual([m["type"] for m in hpas["relay"]], ["Resource", "External"])


class Probes(unittest.TestCase):
    def test_liveness_on_livez_and_readiness_on_readyz_at_the_listen_port(self):
        for name in SETS:
            for d in deployments(name):
                c = main_container(d)
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                listen_port = int(env(c)["CROUPIER_LISTEN"].rsplit(":", 1)[1])
                self.assertEqual(ports["http"], listen_port)
                self.assertEqual(ports["metrics"], int(env(c)["CROUPIER_METRICS_LISTEN"].rsplit(":", 1)[1]))
                for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz"), ("startupProbe", "/livez")):
                    self.assertEqual(c[probe]["httpGet"], {"path": path, "port": "http"}, f"{name}/{component(d)} {probe}")


class Shutdown(unittest.TestCase):
    def test_grace_period_covers_prestop_drain_and_the_request_deadline(self):
        for name in SETS:
            timeout_ms = config_toml(name).get("http", {}).get("request_timeout_ms", 30000)
            for d in deployments(name):
                spec = d["spec"]["template"]["spec"]
                c = main_container(d)
                e = env(c)
                pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
                drain = int(e["CROUPIER_SHUTDOWN_DRAIN_SECS"])
                grace = int(e["CROUPIER_SHUTDOWN_GRACE_SECS"])
                needed = pre_stop + drain + max(grace, math.ceil(timeout_ms / 1000))
                # Strictly greater: a margin before the kubelet's SIGKILL.
                self.assertGreater(spec["terminationGracePeriodSeconds"], needed, f"{name}/{component(d)}")

    def test_the_api_drains_longer_than_the_alb_takes_to_mark_it_unhealthy(self):
        ing = one("aws", "Ingress")["metadata"]["annotations"]
        unhealthy_after = int(ing["alb.ingress.kubernetes.io/healthcheck-interval-seconds"]) * int(
            ing["alb.ingress.kubernetes.io/unhealthy-threshold-count"]
        )
        self.assertEqual(ing["alb.ingress.kubernetes.io/healthcheck-path"], "/readyz")
        api = main_container(one("aws", "Deployment", "api"))
        self.assertGreater(int(env(api)["CROUPIER_SHUTDOWN_DRAIN_SECS"]), unhealthy_after)

    def test_prestop_is_the_sleep_action_when_asked_for(self):
        for d in deployments("variants"):
            c = main_container(d)
            self.assertEqual(c["lifecycle"], {"preStop": {"sleep": {"seconds": 5}}})
        for d in deployments("default"):
            self.assertNotIn("lifecycle", main_container(d), "default: the binary's drain, no preStop")


class Security(unittest.TestCase):
    def containers(self, spec):
        return spec["containers"] + spec.get("initContainers", [])

    def test_every_pod_runs_non_root_read_only_without_privileges(self):
        for name in SETS:
            for where, spec, _ in pod_specs(name):
                pod = spec["securityContext"]
                self.assertTrue(pod["runAsNonRoot"], where)
                self.assertNotEqual(pod.get("runAsUser", 0), 0, where)
                self.assertEqual(pod["seccompProfile"], {"type": "RuntimeDefault"})
                for c in self.containers(spec):
                    sc = c["securityContext"]
                    self.assertTrue(sc["runAsNonRoot"], where)
                    self.assertTrue(sc["readOnlyRootFilesystem"], where)
                    self.assertFalse(sc["allowPrivilegeEscalation"], where)
                    self.assertFalse(sc.get("privileged", False), where)
                    self.assertEqual(sc["capabilities"]["drop"], ["ALL"], where)
                    self.assertNotIn("add", sc["capabilities"], where)

    def test_every_container_has_requests_and_a_memory_limit(self):
        for name in SETS:
            for where, spec, _ in pod_specs(name):
                for c in self.containers(spec):
                    r = c["resources"]
                    self.assertLessEqual({"cpu", "memory"}, set(r["requests"]), f"{where}/{c['name']}")
                    self.assertIn("memory", r["limits"], f"{where}/{c['name']}")

    def test_no_api_token_and_no_service_link_variables(self):
        for name in SETS:
            for sa in of_kind(name, "ServiceAccount"):
                self.assertIs(sa["automountServiceAccountToken"], False)
            for where, spec, _ in pod_specs(name):
                self.assertIs(spec["automountServiceAccountToken"], False, where)
                # CROUPIER_API_PORT and the like would be read as configuration.
                self.assertIs(spec["enableServiceLinks"], False, where)

    def test_urls_come_only_as_files_from_the_secret(self):
        for name in SETS:
            for where, spec, _ in pod_specs(name):
                secret_mounts = {
                    v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v
                }
                for c in self.containers(spec):
                    for e in c.get("env", []):
                        self.assertNotIn("secretKeyRef", e.get("valueFrom", {}), where)
                        value = e.get("value") or ""
                        self.assertNotRegex(value, r"^(postgres|postgresql|redis|nats)://", where)
                        if e["name"].endswith("_URL_FILE"):
                            (mount,) = [
                                m for m in c["volumeMounts"] if value.startswith(m["mountPath"] + "/")
                            ]
                            self.assertIn(mount["name"], secret_mounts, where)
                            self.assertTrue(mount["readOnly"])

    def test_network_policies_cover_every_pod_and_open_http_only_on_the_api(self):
        for name in ("default", "aws", "variants"):
            policies = of_kind(name, "NetworkPolicy")
            for where, spec, labels in pod_specs(name):
                mine = [p for p in policies if selects(p["spec"]["podSelector"]["matchLabels"], labels)]
                self.assertEqual(len(mine), 1, where)
                ports = {p["port"] for rule in mine[0]["spec"]["ingress"] for p in rule["ports"]}
                role = labels["app.kubernetes.io/component"]
                expected = {"api": {"http", "metrics"}, "migrate": set()}.get(role, {"metrics"})
                self.assertEqual(ports, expected, where)
        egress = one("variants", "NetworkPolicy", "api")["spec"]
        self.assertIn("Egress", egress["policyTypes"])
        self.assertIn({"port": 53, "protocol": "UDP"}, egress["egress"][0]["ports"])


class Migrations(unittest.TestCase):
    def test_a_hook_job_migrates_before_install_and_upgrade(self):
        for name in ("default", "aws"):
            job = one(name, "Job")
            ann = job["metadata"]["annotations"]
            self.assertEqual(set(ann["helm.sh/hook"].split(",")), {"pre-install", "pre-upgrade"})
            (c,) = job["spec"]["template"]["spec"]["containers"]
            self.assertEqual(c["args"], ["migrate"])
            e = env(c)
            self.assertIn("CROUPIER_DATABASE_URL_FILE", e)
            self.assertNotIn("CROUPIER_CONFIG", e, "the ConfigMap does not exist yet at pre-install")
            volumes = job["spec"]["template"]["spec"]["volumes"]
            self.assertFalse([v for v in volumes if "configMap" in v])

    def test_the_external_secret_is_a_hook_that_runs_before_the_job(self):
        es = one("aws", "ExternalSecret")
        job = one("aws", "Job")
        self.assertEqual(es["metadata"]["annotations"]["helm.sh/hook"], job["metadata"]["annotations"]["helm.sh/hook"])
        self.assertLess(
            int(es["metadata"]["annotations"]["helm.sh/hook-weight"]),
            int(job["metadata"]["annotations"]["helm.sh/hook-weight"]),
        )
        (secret,) = [v["secret"]["secretName"] for v in job["spec"]["template"]["spec"]["volumes"] if "secret" in v]
        self.assertEqual(es["spec"]["target"]["name"], secret)
        keys = {d["secretKey"] for d in es["spec"]["data"]}
        for d in deployments("aws"):
            for e in main_container(d)["env"]:
                if e["name"].endswith("_URL_FILE"):
                    self.assertIn(e["value"].rsplit("/", 1)[1], keys)

    def test_init_container_mode_migrates_in_every_pod_and_renders_no_job(self):
        self.assertEqual(of_kind("variants", "Job"), [])
        for d in deployments("variants"):
            (init,) = d["spec"]["template"]["spec"]["initContainers"]
            self.assertEqual(init["args"], ["migrate"])
            self.assertIn("CROUPIER_DATABASE_URL_FILE", env(init))


class Monitoring(unittest.TestCase):
    def test_the_prometheus_rule_is_deploy_observability_alerts_yml(self):
        link = os.path.join(CHART, "files", "alerts.yml")
        target = os.path.join(CHART, "..", "..", "observability", "alerts.yml")
        self.assertTrue(os.path.islink(link), "files/alerts.yml must stay a link, not a copy")
        self.assertEqual(os.path.realpath(link), os.path.realpath(target))
        with open(target) as f:
            alerts = yaml.safe_load(f)
        rule = one("aws", "PrometheusRule")
        self.assertEqual(rule["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(rule["spec"]["groups"], alerts["groups"])
        self.assertEqual(rule["metadata"]["labels"]["release"], "kube-prometheus-stack")

    def test_the_service_monitor_scrapes_every_pod_as_the_job_the_alerts_expect(self):
        sm = one("aws", "ServiceMonitor")
        svc = one("aws", "Service", "metrics")
        self.assertTrue(selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]))
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        (endpoint,) = sm["spec"]["endpoints"]
        self.assertIn(endpoint["port"], {p["name"] for p in svc["spec"]["ports"]})
        self.assertEqual(endpoint["path"], "/metrics")
        job = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
        with open(os.path.join(CHART, "files", "alerts.yml")) as f:
            self.assertIn(f'job="{job[0]["replacement"]}"', f.read())
        for d in deployments("aws"):
            self.assertTrue(selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]))
        self.assertEqual(of_kind("default", "ServiceMonitor") + of_kind("default", "PrometheusRule"), [])


class Exposure(unittest.TestCase):
    def test_the_alb_ingress_reaches_the_api_pods_only(self):
        ing = one("aws", "Ingress")
        self.assertEqual(ing["spec"]["ingressClassName"], "alb")
        ann = ing["metadata"]["annotations"]
        self.assertEqual(ann["alb.ingress.kubernetes.io/target-type"], "ip")
        svc = one("aws", "Service", "api")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                self.assertEqual(backend["name"], svc["metadata"]["name"])
                self.assertEqual(backend["port"], {"name": "http"})
        self.assertIn("http", {p["name"] for p in svc["spec"]["ports"]})
        api = one("aws", "Deployment", "api")
        for d in deployments("aws"):
            self.assertEqual(
                selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]), d is api
            )


class Config(unittest.TestCase):
    def test_config_toml_is_the_config_value_with_integers_kept_integers(self):
        for name in SETS:
            self.assertEqual(config_toml(name), merged_values(name)["config"], name)
        rich = config_toml("variants")
        self.assertIsInstance(rich["http"]["request_timeout_ms"], int)
        self.assertIsInstance(rich["games"]["limits"][0]["max_payout"], int)
        self.assertIsInstance(rich["telemetry"]["sample_ratio"], float)
        self.assertEqual([c["code"] for c in rich["currencies"]], ["CHIP", "GOLD"])

    def test_every_config_key_is_one_croupier_knows(self):
        with open(os.path.join(CHART, "..", "..", "..", "crates", "croupier", "assets", "default-config.toml"), "rb") as f:
            known = tomllib.load(f)
        # Documented there as commented-out examples (no default value).
        optional = {("export", "url"), ("export", "s3_endpoint"), ("telemetry", "otlp_endpoint")}
        # Tables whose keys are names (games.overrides.<game>), not settings.
        free = {("games", "overrides")}

        def walk(value, defaults, path):
            for k, v in value.items():
                p = path + (k,)
                if p in optional or path in free:
                    continue
                self.assertIn(k, defaults, f"config.{'.'.join(p)} is not in default-config.toml")
                if isinstance(v, dict):
                    walk(v, defaults[k], p)

        for name in SETS:
            walk(config_toml(name), known, ())

    def test_a_config_change_rolls_the_pods(self):
        checksums = {
            name: {d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for d in deployments(name)}
            for name in ("default", "aws")
        }
        self.assertEqual(len(checksums["default"]), 1)
        self.assertNotEqual(checksums["default"], checksums["aws"])


if __name__ == "__main__":
    unittest.main()
