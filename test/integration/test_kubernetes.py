"""deploy/kubernetes/ validated offline (no cluster, no servers): every manifest against the
Kubernetes schemas that the pinned kubernetes-validate bundles, strictly, and broken copies
rejected; then what a schema cannot see: the security context of every container, probes and
scrape settings on the port the configuration listens on, the Job's shard count equal to its
completions and parallelism, environment variable names from the contract, and the
ConfigMap's pinpostd.yaml loaded by the program under test with each pod's environment and
volumes laid out in a temporary directory, as the kubelet would."""

import copy
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import PINPOSTD, sanitizer_logs_as
from servers import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "deploy", "kubernetes")
# The Kubernetes release whose schemas the manifests must satisfy (kubernetes-validate's
# own version pins which releases it bundles: test/requirements.txt).
K8S_VERSION = "1.31.0"
# The environment variables pinpostd reads (the contract of docs/containers.md), plus the
# one the Job controller sets.
CONTRACT_ENV = {
    "PINPOSTD_BOOTSTRAP_SERVERS", "PINPOSTD_DB_HOST", "PINPOSTD_DB_PORT", "PINPOSTD_DB_USER",
    "PINPOSTD_DB_DATABASE", "PINPOSTD_DB_PASSWORD_FILE", "PINPOSTD_TOPIC_PREFIX",
    "PINPOSTD_INSTANCE", "PINPOSTD_SHARDS", "PINPOSTD_METRICS_LISTEN", "PINPOSTD_REPORT",
    "PINPOSTD_METRICS_FILE",
}
CONTAINER_SECURITY = {
    "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
    "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
}
# A pod name as a Deployment's ReplicaSet makes them (for fieldRef metadata.name).
POD_NAME = "pinpostd-5d8f7b9c4-x7k2q"
CORE_FILES = ["configmap.yaml", "secret.yaml", "job.yaml", "deployment.yaml"]
CRD_FILES = ["podmonitor.yaml"]


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return yaml.safe_load(f)


def validate(path):
    """kubernetes-validate --strict on one file: (exit status, output)."""
    p = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict",
                        "-k", K8S_VERSION, path], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def workloads():
    return {"job": load("job.yaml"), "deployment": load("deployment.yaml")}


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def containers(w):
    s = pod_spec(w)
    return s.get("initContainers", []) + s["containers"]


def fleet_config():
    return yaml.safe_load(load("configmap.yaml")["data"]["pinpostd.yaml"])


def env_value(c, name):
    for e in c.get("env", []):
        if e["name"] == name:
            return e.get("value")
    return None


def test_every_file_is_covered():
    names = sorted(f for f in os.listdir(DEPLOY) if f.endswith((".yaml", ".yml")))
    assert names == sorted(CORE_FILES + CRD_FILES), \
        f"deploy/kubernetes holds {names}: add new files to CORE_FILES or CRD_FILES here"


@pytest.mark.parametrize("name", CORE_FILES)
def test_manifest_passes_strict_schema(name):
    rc, out = validate(os.path.join(DEPLOY, name))
    assert rc == 0 and "passed" in out, out
    assert "WARN" not in out and "ERROR" not in out, out


def test_crd_has_no_bundled_schema():
    """The PodMonitor is a CRD: the bundled schemas do not know it (a warning, exit 0), so
    test_podmonitor_fields checks it instead. When a release bundles it, validate it."""
    rc, out = validate(os.path.join(DEPLOY, "podmonitor.yaml"))
    assert rc == 0 and "Couldn't find schema for kind PodMonitor" in out, out


def _drop_container_name(d):
    del pod_spec(d)["containers"][0]["name"]


def _misspell_grace(d):
    s = pod_spec(d)
    s["terminationGracePeriodSecond"] = s.pop("terminationGracePeriodSeconds")


def _port_as_string(d):
    pod_spec(d)["containers"][0]["ports"][0]["containerPort"] = "9464"


def _drop_selector(d):
    del d["spec"]["selector"]


def _drop_as_string(d):
    pod_spec(d)["containers"][0]["securityContext"]["capabilities"]["drop"] = "ALL"


def _completions_as_string(d):
    d["spec"]["completions"] = "4"


def _misspell_probe(d):
    c = pod_spec(d)["containers"][0]
    c["livenesProbe"] = c.pop("livenessProbe")


def _data_value_number(d):
    d["data"]["pinpostd.yaml"] = 5


def _misspell_string_data(d):
    d["stringDta"] = d.pop("stringData")


BROKEN = [
    ("job.yaml", "missing required field", _drop_container_name, "'name' is a required property"),
    ("job.yaml", "misspelt field", _misspell_grace, "terminationGracePeriodSecond"),
    ("job.yaml", "wrong type", _completions_as_string, "is not of type 'integer'"),
    ("deployment.yaml", "wrong type", _port_as_string, "is not of type 'integer'"),
    ("deployment.yaml", "missing required field", _drop_selector, "'selector' is a required"),
    ("deployment.yaml", "wrong type", _drop_as_string, "is not of type 'array'"),
    ("deployment.yaml", "misspelt field", _misspell_probe, "livenesProbe"),
    ("configmap.yaml", "wrong type", _data_value_number, "is not of type 'string'"),
    ("secret.yaml", "misspelt field", _misspell_string_data, "stringDta"),
]


@pytest.mark.parametrize("name,what,mutate,expect", BROKEN,
                         ids=[f"{b[0]}-{b[1]}-{b[2].__name__.strip('_')}" for b in BROKEN])
def test_broken_manifest_fails(tmp_path, name, what, mutate, expect):
    doc = load(name)
    # The unbroken copy, written the same way, passes: the failure is the mutation's.
    good = tmp_path / f"good-{name}"
    good.write_text(yaml.safe_dump(doc))
    rc, out = validate(str(good))
    assert rc == 0, out
    broken = copy.deepcopy(doc)
    mutate(broken)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(broken))
    rc, out = validate(str(path))
    assert rc != 0 and "ERROR" in out and expect in out, f"{what} not rejected:\n{out}"


def test_security_context_matches_the_systemd_hardening():
    for kind, w in workloads().items():
        s = pod_spec(w)
        assert s.get("automountServiceAccountToken") is False, kind
        assert s.get("enableServiceLinks") is False, kind  # no PINPOSTD_PORT from a Service
        psc = s["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, kind
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, kind
        # The Secret's files are root's: the fsGroup is what lets user 10001 read them.
        assert psc.get("fsGroup") == 10001, kind
        for c in containers(w):
            sc = c.get("securityContext", {})
            for key, want in CONTAINER_SECURITY.items():
                assert sc.get(key) == want, f"{kind} container {c['name']}: securityContext.{key} " \
                                            f"is {sc.get(key)!r}, want {want!r}"
            assert not sc.get("privileged") and not sc.get("capabilities", {}).get("add"), kind


def test_grace_period_exceeds_drain_timeout():
    svc = fleet_config().get("service", {})
    drain = svc.get("drain_timeout", fleet_config().get("kafka", {}).get("flush_timeout", 30))
    for kind, w in workloads().items():
        grace = pod_spec(w).get("terminationGracePeriodSeconds", 30)
        assert grace > drain + 5, f"{kind}: terminationGracePeriodSeconds {grace} leaves no " \
                                  f"time after service.drain_timeout {drain}"


def metrics_port(c):
    """The port this container's pinpostd listens on: the config's, or PINPOSTD_METRICS_LISTEN."""
    listen = env_value(c, "PINPOSTD_METRICS_LISTEN") or fleet_config()["service"]["metrics_listen"]
    host, _, port = listen.rpartition(":")
    # The kubelet probes, and Prometheus scrapes, the pod's IP: loopback would fail both.
    assert host in ("0.0.0.0", "[::]"), f"metrics_listen {listen} is not reachable from outside the pod"
    return int(port)


def resolve_port(c, port):
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
    assert port in named, f"container {c['name']}: no port named {port}"
    return named[port]


def test_probes_and_scrape_settings_use_the_metrics_port():
    for kind, w in workloads().items():
        ann = w["spec"]["template"]["metadata"]["annotations"]
        c = pod_spec(w)["containers"][0]
        port = metrics_port(c)
        assert ann["prometheus.io/scrape"] == "true", kind
        assert int(ann["prometheus.io/port"]) == port, kind
        assert ann["prometheus.io/path"] == "/metrics", kind
        # Ready (and started) means /healthz; alive means /livez, which an outage of the
        # database or the brokers does not fail (test_metrics_http.py), so that liveness
        # restarts only a wedged loop.
        paths = {"startupProbe": "/healthz", "readinessProbe": "/healthz",
                 "livenessProbe": "/livez"}
        for probe, path in paths.items():
            p = c[probe]
            assert p["httpGet"]["path"] == path, f"{kind} {probe}"
            assert resolve_port(c, p["httpGet"]["port"]) == port, f"{kind} {probe}"
            assert p["timeoutSeconds"] < p["periodSeconds"], f"{kind} {probe}"
        # Liveness adds its own failures to /livez's 45 s of silence; the startup probe
        # allows for reading a big table's keys.
        live, start = c["livenessProbe"], c["startupProbe"]
        assert live["periodSeconds"] * live["failureThreshold"] >= 30, kind
        assert start["periodSeconds"] * start["failureThreshold"] >= 300, kind


def test_podmonitor_fields():
    """Structural check of the CRD (no bundled schema): known fields only, selecting both
    workloads' pods, on their named metrics port and the annotated path."""
    pm = load("podmonitor.yaml")
    problems = podmonitor_problems(pm)
    assert not problems, problems
    broken = copy.deepcopy(pm)
    broken["spec"]["podMetricsEndpoints"][0]["prot"] = broken["spec"]["podMetricsEndpoints"][0].pop("port")
    assert podmonitor_problems(broken), "a misspelt PodMonitor field was not caught"
    broken = copy.deepcopy(pm)
    broken["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "other"
    assert podmonitor_problems(broken), "a PodMonitor selecting no pod was not caught"


# The fields of monitoring.coreos.com/v1 PodMonitor used or commonly set (prometheus-operator
# v0.7x API reference); anything else is most likely a typo.
PM_SPEC = {"selector", "namespaceSelector", "podMetricsEndpoints", "jobLabel", "podTargetLabels",
           "sampleLimit", "targetLimit", "labelLimit", "attachMetadata", "scrapeProtocols"}
PM_ENDPOINT = {"port", "portNumber", "targetPort", "path", "scheme", "params", "interval",
               "scrapeTimeout", "honorLabels", "honorTimestamps", "relabelings",
               "metricRelabelings", "enableHttp2", "followRedirects", "filterRunning",
               "basicAuth", "authorization", "oauth2", "tlsConfig", "bearerTokenSecret",
               "proxyUrl", "trackTimestampsStaleness"}


def podmonitor_problems(pm):
    out = []
    if pm.get("apiVersion") != "monitoring.coreos.com/v1" or pm.get("kind") != "PodMonitor":
        out.append("not a monitoring.coreos.com/v1 PodMonitor")
    if not pm.get("metadata", {}).get("name"):
        out.append("metadata.name missing")
    spec = pm.get("spec", {})
    out += [f"spec.{k}: unknown field" for k in set(spec) - PM_SPEC]
    labels = spec.get("selector", {}).get("matchLabels", {})
    if not labels:
        out.append("spec.selector.matchLabels missing")
    eps = spec.get("podMetricsEndpoints") or []
    if not eps:
        out.append("spec.podMetricsEndpoints missing")
    for kind, w in workloads().items():
        tl = w["spec"]["template"]["metadata"]["labels"]
        if any(tl.get(k) != v for k, v in labels.items()):
            out.append(f"selector does not select the {kind}'s pods")
        c = pod_spec(w)["containers"][0]
        ann = w["spec"]["template"]["metadata"]["annotations"]
        for i, ep in enumerate(eps):
            out += [f"podMetricsEndpoints[{i}].{k}: unknown field" for k in set(ep) - PM_ENDPOINT]
            if "port" not in ep:
                out.append(f"podMetricsEndpoints[{i}].port missing")
            elif not any(p.get("name") == ep["port"] and p["containerPort"] == metrics_port(c)
                         for p in c.get("ports", [])):
                out.append(f"podMetricsEndpoints[{i}].port {ep['port']} is not the {kind}'s metrics port")
            if ep.get("path", "/metrics") != ann["prometheus.io/path"]:
                out.append(f"podMetricsEndpoints[{i}].path differs from the annotation")
    return out


def test_job_shards_equal_completions_and_parallelism():
    job = load("job.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    shards = int(env_value(spec["template"]["spec"]["containers"][0], "PINPOSTD_SHARDS"))
    assert shards == spec["completions"] == spec["parallelism"], \
        f"PINPOSTD_SHARDS {shards}, completions {spec['completions']}, parallelism {spec['parallelism']}"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_deployment_names_each_pod_its_own_instance():
    dep = load("deployment.yaml")
    c = pod_spec(dep)["containers"][0]
    inst = [e for e in c["env"] if e["name"] == "PINPOSTD_INSTANCE"]
    assert inst and inst[0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env_value(c, "PINPOSTD_SHARDS") in (None, "1")


def test_env_names_and_images():
    for kind, w in workloads().items():
        for c in containers(w):
            for e in c.get("env", []):
                if e["name"].startswith("PINPOSTD_"):
                    assert e["name"] in CONTRACT_ENV, f"{kind}: {e['name']} is not a variable pinpostd reads"
            # No registry host: a local name, to be replaced by where the cluster pulls from.
            assert c["image"].startswith("localhost/pinpostd:"), f"{kind}: image {c['image']}"
            r = c["resources"]
            for res in ("cpu", "memory"):
                assert res in r["requests"] and res in r["limits"], f"{kind}: {res}"
            assert quantity(r["requests"]["memory"]) <= quantity(r["limits"]["memory"])
            assert quantity(r["requests"]["cpu"]) <= quantity(r["limits"]["cpu"])


def quantity(q):
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(q))
    assert m, q
    return float(m.group(1)) * units.get(m.group(2), 1)


# ---- the configuration, loaded by pinpostd as each pod would see it ----

class Pod:
    """One pod's files and environment, under a temporary root: the ConfigMap and Secret
    volumes with their keys as files, as the kubelet makes them (a Secret's files root's,
    with defaultMode, and with fsGroup their group and mode | 0440, as Kubernetes'
    SetVolumeOwnership leaves a read-only volume), the emptyDir (0777), and every mount path
    in the config, env and args moved under the root; pinpostd runs as the pod's runAsUser,
    runAsGroup and fsGroup."""

    def __init__(self, root, workload, env_extra=None, configmap=None, secret=None):
        self.root = root
        spec = pod_spec(workload)
        self.c = spec["containers"][0]
        sc = {**spec.get("securityContext", {}), **self.c.get("securityContext", {})}
        self.uid, self.gid = sc["runAsUser"], sc["runAsGroup"]
        self.fs_group = spec.get("securityContext", {}).get("fsGroup")
        configmap = configmap or load("configmap.yaml")
        secret = secret or load("secret.yaml")
        vols = {v["name"]: v for v in spec["volumes"]}
        self.mounts = [m["mountPath"] for m in self.c["volumeMounts"]]
        for m in self.c["volumeMounts"]:
            v = vols[m["name"]]  # a mount of an undeclared volume fails here
            d = root
            for part in m["mountPath"].strip("/").split("/"):  # 0755, whatever the umask
                d = os.path.join(d, part)
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o755)
            if "configMap" in v:
                assert v["configMap"]["name"] == configmap["metadata"]["name"]
                for k, text in configmap["data"].items():
                    with open(os.path.join(d, k), "w") as f:
                        f.write(self.rebase(text))
                    os.chmod(os.path.join(d, k), v["configMap"].get("defaultMode", 0o644))
            elif "secret" in v:
                assert v["secret"]["secretName"] == secret["metadata"]["name"]
                mode = v["secret"].get("defaultMode", 0o644)
                if self.fs_group is not None:
                    mode |= 0o440
                for k, text in secret["stringData"].items():
                    with open(os.path.join(d, k), "w") as f:
                        f.write(text)
                    os.chown(os.path.join(d, k), 0, self.fs_group or 0)
                    os.chmod(os.path.join(d, k), mode)
            else:
                assert "emptyDir" in v, f"volume {m['name']}: unexpected kind"
                os.chmod(d, 0o777)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("PINPOSTD_") and k != "JOB_COMPLETION_INDEX"}
        for e in self.c.get("env", []):
            if "value" in e:
                self.env[e["name"]] = self.rebase(e["value"])
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                self.env[e["name"]] = POD_NAME
            else:
                raise AssertionError(f"env {e['name']}: no way to emulate {e}")
        self.env.update(env_extra or {})
        self.args = [self.rebase(a) for a in self.c["args"]]
        # The tier's sanitizer log directory is not the pod user's to write: one of the
        # pod's own, which run() checks stays empty.
        self.no_reports = sanitizer_logs_as(self.env, os.path.join(root, "sanitizer-logs"),
                                            self.uid, self.gid)

    def rebase(self, text):
        # Longest mount first; the mounts are distinct directories.
        for m in sorted(self.mounts, key=len, reverse=True):
            text = text.replace(m + "/", self.root + m + "/")
        return text

    def run(self, *extra, env=None):
        p = subprocess.run([PINPOSTD, *self.args, *extra], env={**self.env, **(env or {})},
                           capture_output=True, text=True, timeout=120, user=self.uid,
                           group=self.gid,
                           extra_groups=[self.fs_group] if self.fs_group is not None else [],
                           cwd=self.root)
        self.no_reports()
        return p


def make_pod(base, name, workload, **kw):
    root = str(base / name)
    os.makedirs(root)
    os.chmod(root, 0o755)  # whatever the umask
    return Pod(root, workload, **kw)


def summary(stdout):
    """The service section of --check's summary, as key -> value."""
    section, out = None, {}
    for line in stdout.splitlines():
        if re.match(r"^[a-z]+:$", line):
            section = line[:-1]
        elif section and line.startswith("  ") and ": " in line:
            k, _, v = line.strip().partition(": ")
            out[f"{section}.{k}"] = v
    return out


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


def test_job_pods_load_the_config(open_dir):
    """Every index of the Job: the config parses with the pod's volumes and environment
    (--check --demo: built-in data and an in-process cluster, no servers), each pod is its
    own instance with its share of --count and its own report file, and a short dry run
    paces it at its share of --rate."""
    job = load("job.yaml")
    n = job["spec"]["completions"]
    cfg = fleet_config()
    args = pod_spec(job)["containers"][0]["args"]
    total_count, total_rate = int(flag(args, "--count")), float(flag(args, "--rate"))
    seeds = set()
    for i in range(n):
        pod = make_pod(open_dir, f"job-{i}", job, env_extra={"JOB_COMPLETION_INDEX": str(i)})
        p = pod.run("--check", "--demo")
        assert p.returncode == 0, f"index {i}: exit {p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"
        assert "warning" not in p.stderr, p.stderr  # e.g. a misspelt variable, an exposed secret
        s = summary(p.stdout)
        assert s["service.instance"] == f"{cfg['service']['instance']}-{i}"
        assert s["service.shard"] == f"{i}/{n}"
        assert int(s["emulation.count"]) == total_count // n + (i < total_count % n)
        assert s["service.report"] == f"{pod.root}/var/lib/pinpostd/report-{i}.json"
        assert s["service.metrics_listen"] == cfg["service"]["metrics_listen"]
        assert s["source.password"] == "(set, redacted)"
        seeds.add(s["emulation.seed"])
        # The pacing share, measured: one second of a dry run, on a port of the test's own
        # (the probes' port may be taken on this machine).
        p = pod.run("--dry-run", "--demo", "--duration", "1",
                    env={"PINPOSTD_METRICS_LISTEN": f"127.0.0.1:{free_port()}"})
        assert p.returncode == 0, p.stderr[-3000:]
        with open(f"{pod.root}/var/lib/pinpostd/report-{i}.json") as f:
            rep = json.load(f)
        assert rep["instance"] == f"{cfg['service']['instance']}-{i}"
        assert rep["load"]["stages"][0]["target_rate"] == pytest.approx(total_rate / n)
    assert len(seeds) == n, f"the shards share seeds: {seeds}"


def test_job_pod_index_out_of_range_is_refused(open_dir):
    job = load("job.yaml")
    n = job["spec"]["completions"]
    pod = make_pod(open_dir, "job-x", job, env_extra={"JOB_COMPLETION_INDEX": str(n)})
    p = pod.run("--check", "--demo")
    assert p.returncode == 78 and "JOB_COMPLETION_INDEX" in p.stderr, p.stderr


def test_deployment_pod_loads_the_config(open_dir):
    dep = load("deployment.yaml")
    cfg = fleet_config()
    pod = make_pod(open_dir, "dep", dep)
    p = pod.run("--check", "--demo")
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"
    assert "warning" not in p.stderr, p.stderr
    s = summary(p.stdout)
    assert s["service.instance"] == POD_NAME
    assert "service.shard" not in s or s["service.shard"] == "0/1"
    assert s["emulation.rate"].split()[0] == f"{cfg['emulation']['rate']:g}"
    assert s["service.report"] == f"{pod.root}{cfg['service']['report']}"
    assert s["service.metrics_listen"] == cfg["service"]["metrics_listen"]


def test_config_naming_an_unmounted_secret_fails(open_dir):
    """The mount layout is really exercised: a path outside every mount is not found."""
    cm = load("configmap.yaml")
    cm["data"]["pinpostd.yaml"] = cm["data"]["pinpostd.yaml"].replace(
        "/run/secrets/pinpostd/db-password", "/run/secrets/elsewhere/db-password")
    pod = make_pod(open_dir, "dep", load("deployment.yaml"), configmap=cm)
    p = pod.run("--check", "--demo")
    assert p.returncode == 78 and "/run/secrets/elsewhere/db-password" in p.stderr, p.stderr
