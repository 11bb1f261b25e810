"""The container image (Containerfile, `make image`), run with podman against the harness's
MariaDB and Kafka on loopback (--network host): a --count run verified whole, SIGTERM
through `podman stop` flushing and reporting, a read-only root, the configuration from a
mounted file or from environment variables alone, the healthcheck, and a fleet of
containers as a Kubernetes Indexed Job would start them (JOB_COMPLETION_INDEX=0..N-1),
verified as one fleet by pinpost-verify. Then what an orchestrator does to it: two stop
signals, SIGKILL, a broker frozen while the container stops, hostile environment values.

The image is built once per session from the working tree (scripts/container image), as
localhost/pp-img-test:<hash of its inputs and of the base image>. When podman cannot run
here the tests are SKIPPED loudly with the reason (FAILED with CI=true).
PINPOSTD_IMAGE=NAME tests that image instead (`make image`'s localhost/pinpostd:latest)."""

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import PINPOST_VERIFY, consume_all, group_posts
from containers import CONTAINER, ROOT, container_ok_fixture, podman
from servers import MariaDB, free_port

container_ok = container_ok_fixture("IMAGE TESTS", "the container image was NOT tested")

PREFIX = "pp-img"
UID = 10001
SIZE_BUDGET = 120 * 1000 * 1000  # bytes, as podman counts them (uncompressed)
# What the image is built from: a change to any of these is a new image.
INPUTS = ("Containerfile", ".containerignore", "Makefile", "scripts/container", "include", "src",
          "etc", "systemd", "docs/man")
TIMINGS = {}


def inputs_hash(base_id):
    h = hashlib.sha256(base_id.encode())
    for top in INPUTS:
        path = os.path.join(ROOT, top)
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def image(container_ok):
    given = os.environ.get("PINPOSTD_IMAGE")
    if given:  # an image built elsewhere (make image): tested as it is
        if podman("image", "exists", given, check=False).returncode != 0:
            pytest.fail(f"PINPOSTD_IMAGE={given}: no such image", pytrace=False)
        return given
    base = subprocess.run([CONTAINER, "base", "bookworm"], capture_output=True, text=True,
                          timeout=900)
    if base.returncode != 0:
        pytest.fail(f"scripts/container base bookworm failed:\n{base.stderr[-3000:]}")
    base = base.stdout.strip().splitlines()[-1]
    base_id = podman("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()
    name = f"localhost/{PREFIX}-test:{inputs_hash(base_id)}"
    if podman("image", "exists", name, check=False).returncode == 0:
        print(f"\nimage tests: {name} (cached)")
        return name
    t0 = time.monotonic()
    p = subprocess.run([CONTAINER, "image", name], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        pytest.fail(f"building the image failed:\n{p.stderr[-4000:]}", pytrace=False)
    TIMINGS["build_s"] = time.monotonic() - t0
    print(f"\nimage tests: built {name} in {TIMINGS['build_s']:.0f} s")
    # Older images of these tests: only the newest is kept. The listing names every tag of
    # a matching image (one build cached under make image's name too): untag only ours,
    # with `untag`, which leaves the image to its other names.
    # Then the image itself, by ID without -f: podman refuses while another name holds it.
    listing = podman("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}",
                     f"localhost/{PREFIX}-test", check=False).stdout.splitlines()
    for old, image_id in (line.split() for line in listing if line.strip()):
        if old.startswith(f"localhost/{PREFIX}-test:") and old != name:
            podman("untag", image_id, old, check=False)
            podman("rmi", image_id, check=False)
    return name


def own(path, mode):
    os.chown(path, UID, UID)
    os.chmod(path, mode)


class Boxes:
    """The containers of one test, each with its state volume (/var/lib/pinpostd), removed
    at the end whatever happened."""

    def __init__(self, image, tmp_path, label):
        self.image = image
        self.tmp = tmp_path
        self.label = label
        self.names = []

    def state_dir(self, name):
        d = self.tmp / f"state-{name}"
        d.mkdir(exist_ok=True)
        own(d, 0o700)
        return d

    def start(self, *args, env=None, mounts=(), read_only=False, entrypoint=None, state=True,
              podman_args=()):
        """podman run -d; returns the container's name."""
        name = f"{PREFIX}-{self.label}-{uuid.uuid4().hex[:6]}"
        cmd = ["run", "-d", "--name", name, "--network", "host", *podman_args]
        if read_only:
            cmd += ["--read-only", "--read-only-tmpfs=false"]
        if state:
            cmd += ["-v", f"{self.state_dir(name)}:/var/lib/pinpostd"]
        for src, dst in mounts:
            cmd += ["-v", f"{src}:{dst}:ro"]
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        if entrypoint:
            cmd += ["--entrypoint", entrypoint]
        podman(*cmd, self.image, *args)
        self.names.append(name)
        return name

    def wait(self, name, timeout=180):
        """The container's exit status, once it has exited."""
        p = podman("wait", name, timeout=timeout)
        return int(p.stdout.strip().splitlines()[-1])

    def logs(self, name):
        p = podman("logs", name, check=False)
        return p.stdout + p.stderr

    def run(self, *args, timeout=180, **kw):
        """Run to the end: (exit status, output)."""
        name = self.start(*args, **kw)
        rc = self.wait(name, timeout)
        return rc, self.logs(name)

    def report(self, name):
        path = self.tmp / f"state-{name}" / "report.json"
        return json.loads(path.read_text()) if path.exists() else None

    def report_path(self, name):
        return self.tmp / f"state-{name}" / "report.json"

    def remove(self):
        for n in self.names:
            podman("rm", "-f", "-t", "0", n, check=False, timeout=120)


@pytest.fixture
def boxes(request, image, tmp_path):
    label = "".join(c if c.isalnum() else "-" for c in request.node.name.replace("test_", ""))
    b = Boxes(image, tmp_path, label[:20])
    yield b
    b.remove()


def config_dir(env, tmp_path, extra_service="", extra_kafka="", name="etc"):
    """A configuration directory to mount at /etc/pinpostd, readable by the container's
    user only: pinpostd.yaml with the credentials files next to it."""
    d = tmp_path / name
    d.mkdir()
    (d / "db_creds.yaml").write_text(
        f"RDS_HOST: 127.0.0.1\nRDS_PASSWORD: {MariaDB.PASSWORD}\nRDS_USER: {MariaDB.USER}\n"
        f"RDS_DATABASE: {env.database}\nRDS_PORT: {env.db.port}\n")
    (d / "client.properties").write_text(f"bootstrap.servers={env.kafka.bootstrap}\n")
    (d / "pinpostd.yaml").write_text(
        "source:\n  credentials: db_creds.yaml\n"
        f"kafka:\n  properties: client.properties\n  topic_prefix: {env.prefix}\n" + extra_kafka +
        f"service:\n  instance: {env.instance}\n  summary_interval: 1\n"
        "  report: /var/lib/pinpostd/report.json\n" + extra_service)
    for f in d.iterdir():
        own(f, 0o600)
    own(d, 0o700)
    return d


def verify(env, reports, rows=True, timeout=60):
    """pinpost-verify (the harness's build) over the topics with these run reports: each
    instance's posts 1..N once and whole (and equal to their rows)."""
    args = [PINPOST_VERIFY, "-c", str(env.config), "--json", "--timeout", str(timeout)]
    for r in reports:
        args += ["--run-report", str(r)]
    if rows:
        args.append("--rows")
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    result = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else None
    assert p.returncode == 0 and result and result["result"] == "verified", \
        f"pinpost-verify: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return result


def broker_posts(env, instance):
    """{seq: {table: ...}} of one instance as the broker holds them (read_committed)."""
    return group_posts(consume_all(env.kafka.bootstrap, env.topics), instance)


def wait_flowing(boxes, name, env, instance, posts, timeout=60):
    """Until the broker holds at least this many whole posts of the instance (container
    name still running)."""
    deadline = time.monotonic() + timeout
    while True:
        got = broker_posts(env, instance)
        whole = sum(1 for p in got.values() if len(p) == 3)
        if whole >= posts:
            return whole
        running = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
        assert running == "true" and time.monotonic() < deadline, \
            f"{instance}: {whole} posts after {timeout} s, running: {running}\n" \
            f"{boxes.logs(name)[-3000:]}"
        time.sleep(1)


def assert_report_matches_broker(env, rep):
    """The report's counters are what the broker holds: its delivered posts all there and
    whole, its per-topic message counts the topics' counts for this instance."""
    posts = broker_posts(env, rep["instance"])
    partial = {s: sorted(p) for s, p in posts.items() if len(p) != 3}
    assert not partial, f"partial posts in the broker: {list(partial.items())[:10]}"
    assert len(posts) == rep["posts_delivered"], \
        f"broker holds {len(posts)} posts of {rep['instance']}, report says " \
        f"{rep['posts_delivered']} delivered"
    for table in ("pin", "geo", "user"):
        assert rep["per_topic"][table]["messages_delivered"] == len(posts), (table, rep["per_topic"])
    return posts


# ---- the image itself ----

def test_image_facts(image, boxes):
    """Small, non-root, no compiler, no -dev package, every library resolved, apt lists
    gone, the version of the tree, the metadata an orchestrator reads."""
    info = json.loads(podman("image", "inspect", image).stdout)[0]
    size = info["Size"]
    TIMINGS["size"] = size
    print(f"\nimage size: {size} bytes ({size / 1e6:.1f} MB)")
    assert size < SIZE_BUDGET, f"image is {size / 1e6:.1f} MB, budget {SIZE_BUDGET / 1e6:.0f} MB"
    cfg = info["Config"]
    assert cfg["User"] == f"{UID}:{UID}"
    assert cfg["Entrypoint"] == ["pinpostd"]
    assert cfg.get("StopSignal") in ("SIGTERM", "15"), cfg.get("StopSignal")
    health = info.get("Healthcheck") or cfg.get("Healthcheck") or {}
    assert health.get("Test") == ["CMD", "pinpostd", "health"], info.get("Config")

    version = open(os.path.join(ROOT, "include/core/pp_version.h")).read()
    version = version.split('#define PP_VERSION "')[1].split('"')[0]
    script = (
        "set -u; echo uid=$(id -u) gid=$(id -g);"
        "for c in gcc cc c99 clang tcc ld as make; do command -v $c && echo COMPILER $c; done;"
        "dpkg-query -W -f '${Package}\\n' | grep -E -- '-dev$|^gcc-[0-9]+$|^cpp' | sed 's/^/DEV /';"
        "ldd /usr/bin/pinpostd /usr/bin/pinpost-verify /usr/bin/pinpost-gen | grep 'not found';"
        "echo lists=$(find /var/lib/apt/lists -type f ! -name lock | wc -l);"
        "test -r /etc/pinpostd/pinpostd.yaml && echo config ok;"
        "pinpostd --version; pinpost-verify --version; pinpost-gen --version")
    rc, out = boxes.run("-c", script, entrypoint="sh", state=False)
    assert rc == 0, out
    assert f"uid={UID} gid={UID}" in out
    assert "COMPILER" not in out and "DEV " not in out and "not found" not in out, out
    assert "lists=0" in out and "config ok" in out, out
    assert out.count(version) >= 3, out


# ---- running it ----

def test_count_run_verified(boxes, env, tmp_path):
    """--count with the configuration mounted: exit 0, the report on the volume, every post
    once and whole and equal to its rows."""
    env.load(3000)
    etc = config_dir(env, tmp_path)
    t0 = time.monotonic()
    name = boxes.start("--count", "1000", "--rate", "0", mounts=[(etc, "/etc/pinpostd")])
    rc = boxes.wait(name)
    TIMINGS["count_run_s"] = time.monotonic() - t0
    assert rc == 0, boxes.logs(name)
    rep = boxes.report(name)
    assert rep and rep["posts_delivered"] == 1000 and rep["instance"] == env.instance, rep
    result = verify(env, [boxes.report_path(name)])
    assert result["posts_complete"] == 1000 and result["rows_checked"] >= 3000, result


def test_podman_stop_flushes_and_reports(boxes, env, tmp_path):
    """`podman stop` (SIGTERM) while posting at a rate: exit 0, the report written, every
    post sampled delivered, and the broker holds exactly what the report counts."""
    env.load(2000)
    etc = config_dir(env, tmp_path, extra_kafka="  settings: {linger.ms: 200}\n")
    name = boxes.start("--rate", "300", mounts=[(etc, "/etc/pinpostd")])
    wait_flowing(boxes, name, env, env.instance, 300)
    t0 = time.monotonic()
    podman("stop", "-t", "60", name, timeout=120)
    TIMINGS["stop_s"] = time.monotonic() - t0
    assert boxes.wait(name) == 0, boxes.logs(name)
    assert TIMINGS["stop_s"] < 30, f"stop took {TIMINGS['stop_s']:.1f} s"
    rep = boxes.report(name)
    assert rep, f"no report on the volume\n{boxes.logs(name)}"
    assert rep["posts_failed"] == 0 and rep["posts_unknown"] == 0 and rep["posts_in_flight"] == 0
    assert rep["posts_sampled"] == rep["posts_delivered"] >= 300, rep
    assert_report_matches_broker(env, rep)
    verify(env, [boxes.report_path(name)], rows=False)


def test_read_only_root(boxes, env, tmp_path):
    """--read-only with no tmpfs at all: the run writes only its report, to the volume."""
    env.load(1000)
    rc, out = boxes.run("-c", "touch /tmp/x", entrypoint="sh", read_only=True, state=False)
    assert rc != 0 and "Read-only file system" in out, (rc, out)
    etc = config_dir(env, tmp_path)
    name = boxes.start("--count", "300", "--rate", "0", read_only=True,
                       mounts=[(etc, "/etc/pinpostd")])
    assert boxes.wait(name) == 0, boxes.logs(name)
    verify(env, [boxes.report_path(name)])


def password_file(tmp_path):
    d = tmp_path / "secrets"
    d.mkdir()
    f = d / "db-password"
    f.write_text(MariaDB.PASSWORD + "\n")
    own(f, 0o600)
    own(d, 0o700)
    return f


def env_config(env, tmp_path, **more):
    e = {"PINPOSTD_BOOTSTRAP_SERVERS": env.kafka.bootstrap,
         "PINPOSTD_DB_HOST": "127.0.0.1", "PINPOSTD_DB_PORT": str(env.db.port),
         "PINPOSTD_DB_USER": MariaDB.USER, "PINPOSTD_DB_DATABASE": env.database,
         "PINPOSTD_DB_PASSWORD_FILE": "/run/secrets/db-password",
         "PINPOSTD_TOPIC_PREFIX": env.prefix, "PINPOSTD_INSTANCE": env.instance,
         "PINPOSTD_REPORT": "/var/lib/pinpostd/report.json",
         # Host networking: the image's 0.0.0.0:9464 would be shared by every container.
         "PINPOSTD_METRICS_LISTEN": f"127.0.0.1:{free_port()}"}
    e.update(more)
    return e


def test_environment_configuration(boxes, env, tmp_path):
    """No configuration mounted: the image's own file filled in by PINPOSTD_* variables,
    the password from a mounted 0600 file of the container's user; read-only root."""
    env.load(1000)
    pw = password_file(tmp_path)
    name = boxes.start("--count", "400", "--rate", "0", env=env_config(env, tmp_path),
                       mounts=[(pw, "/run/secrets/db-password")], read_only=True)
    assert boxes.wait(name) == 0, boxes.logs(name)
    rep = boxes.report(name)
    assert rep and rep["instance"] == env.instance and rep["posts_delivered"] == 400, rep
    verify(env, [boxes.report_path(name)])


@pytest.mark.parametrize("var,value", [
    ("PINPOSTD_DB_PORT", "abc"),
    ("PINPOSTD_DB_PORT", "70000"),
    ("PINPOSTD_BOOTSTRAP_SERVERS", ""),
    ("PINPOSTD_DB_PASSWORD_FILE", "/run/secrets/absent"),
    ("PINPOSTD_METRICS_LISTEN", "0.0.0.0:http"),
    ("PINPOSTD_INSTANCE", "fleet\nlevel=fake injected"),
    ("PINPOSTD_INSTANCE", "red\x1b[31mALERT\x1b[0m"),
], ids=["port-abc", "port-70000", "empty-bootstrap", "absent-password-file",
        "bad-listen", "instance-newline", "instance-esc"])
def test_bad_environment_exits_78(boxes, env, tmp_path, var, value):
    """A bad variable is a configuration error (78) that names it, with the value escaped:
    no raw newline or ESC from the environment reaches the log."""
    e = env_config(env, tmp_path, **{var: value})
    pw = password_file(tmp_path)
    rc, out = boxes.run("--count", "1", env=e, mounts=[(pw, "/run/secrets/db-password")],
                        state=False, timeout=60)
    assert rc == 78, f"exit {rc}\n{out}"
    assert var in out, f"{var} not named:\n{out}"
    assert "\x1b" not in out, repr(out)
    assert not any(line.startswith("level=fake") for line in out.splitlines()), repr(out)


def test_healthcheck(boxes, env, tmp_path):
    """The image's HEALTHCHECK (`pinpostd health` against /healthz, through the mounted
    configuration's metrics_listen, a wildcard address as in the image's) turns healthy once the daemon is ready with both ends
    up; the container then still stops cleanly."""
    env.load(500)
    port = free_port()
    # The image's own form, a wildcard address: `pinpostd health` asks it on loopback.
    etc = config_dir(env, tmp_path, extra_service=f"  metrics_listen: 0.0.0.0:{port}\n")
    name = boxes.start("--rate", "5", mounts=[(etc, "/etc/pinpostd")])
    deadline = time.monotonic() + 60
    t0 = time.monotonic()
    while True:
        p = podman("healthcheck", "run", name, check=False, timeout=60)
        if p.returncode == 0:
            break
        assert time.monotonic() < deadline, \
            f"never healthy: {p.stdout}{p.stderr}\n{boxes.logs(name)[-3000:]}"
        time.sleep(0.5)
    TIMINGS["healthy_s"] = time.monotonic() - t0
    state = podman("inspect", "--format", "{{.State.Healthcheck.Status}}", name,
                   check=False).stdout.strip()
    assert state == "healthy", state
    podman("stop", "-t", "60", name, timeout=120)
    assert boxes.wait(name) == 0, boxes.logs(name)


# ---- a fleet: an Indexed Job's pods as containers ----

FLEET = 3
FLEET_COUNT = 900
FLEET_RATE = 150.0


def test_fleet_indexed_job(boxes, env, tmp_path):
    """N containers of one configuration (service.shards: N) with JOB_COMPLETION_INDEX
    0..N-1, as an Indexed Job starts its pods: pinpost-verify over all their reports says
    each instance is whole and once; the counts add up to --count; the rates add up to
    --rate.

    The rate is measured from the broker's CreateTime stamps of each instance's posts:
    (posts - 1) / (last - first), which leaves out the start (connect, key read) and the
    drain, unlike the report's elapsed time. Each instance paces FLEET_RATE / N with even
    gaps, so its span is (posts - 1) gaps to within the jitter of its first and last post
    (milliseconds, against a 6 s span) and the millisecond stamps; 5 % covers a scheduling
    hiccup on a busy test machine while a wrong split (a rate not divided: 3x; a count not
    divided: 3x the posts) still fails."""
    env.load(3000)
    etc = config_dir(env, tmp_path, extra_service=f"  shards: {FLEET}\n")
    names = [boxes.start("--count", str(FLEET_COUNT), "--rate", str(FLEET_RATE),
                         mounts=[(etc, "/etc/pinpostd")],
                         env={"JOB_COMPLETION_INDEX": str(i)}) for i in range(FLEET)]
    t0 = time.monotonic()
    for n in names:
        assert boxes.wait(n) == 0, boxes.logs(n)
    TIMINGS["fleet_s"] = time.monotonic() - t0
    reps = [boxes.report(n) for n in names]
    assert all(reps), reps
    assert sorted(r["instance"] for r in reps) == \
        sorted(f"{env.instance}-{i}" for i in range(FLEET))
    assert sum(r["posts_delivered"] for r in reps) == FLEET_COUNT
    result = verify(env, [boxes.report_path(n) for n in names])
    assert result["instances"] == FLEET and result["instances_failed"] == 0, result
    assert result["posts_expected"] == FLEET_COUNT == result["posts_complete"], result
    assert all(m["result"] == "verified" for m in result["fleet"]), result

    msgs = consume_all(env.kafka.bootstrap, env.topics, timestamps=True)
    total = 0.0
    rates = {}
    for r in reps:
        stamps = sorted(ts for key, headers, value, part, off, (tstype, ts) in msgs["pin"]
                        if headers.get("pinpostd.instance") == r["instance"])
        assert len(stamps) == r["posts_delivered"]
        rates[r["instance"]] = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1000.0)
        total += rates[r["instance"]]
    TIMINGS["fleet_rate"] = total
    print(f"\nfleet rates: {rates}, total {total:.1f}/s (configured {FLEET_RATE})")
    for inst, rate in rates.items():
        assert abs(rate - FLEET_RATE / FLEET) <= 0.05 * FLEET_RATE / FLEET, (inst, rate)
    assert abs(total - FLEET_RATE) <= 0.05 * FLEET_RATE, total


# ---- what an orchestrator does to it ----

def test_stop_twice(boxes, env, tmp_path):
    """Two `podman stop` at once while posting: a second SIGTERM may cut the drain short
    (exit 1, the posts in flight counted failed or unknown) or come after it (exit 0);
    either way the report is written, agrees with the exit status, and no post the report
    counts delivered is missing, partial or duplicated in the broker."""
    env.load(2000)
    etc = config_dir(env, tmp_path, extra_kafka="  settings: {linger.ms: 500}\n")
    name = boxes.start("--rate", "500", mounts=[(etc, "/etc/pinpostd")])
    wait_flowing(boxes, name, env, env.instance, 200)
    stops = [subprocess.Popen([CONTAINER, "podman", "stop", "-t", "60", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for s in stops:
        s.communicate(timeout=120)
    rc = boxes.wait(name)
    rep = boxes.report(name)
    assert rep, f"exit {rc}, no report\n{boxes.logs(name)}"
    lost = rep["posts_failed"] + rep["posts_unknown"]
    assert rc == (1 if lost else 0), (rc, rep)
    posts = broker_posts(env, rep["instance"])
    whole = [s for s, p in posts.items() if len(p) == 3]
    assert len(whole) >= rep["posts_delivered"], (len(whole), rep)
    if not lost:
        assert_report_matches_broker(env, rep)


def test_sigkill(boxes, env, tmp_path):
    """SIGKILL (what follows a stop timeout) with exactly_once delivery: exit 137, no report
    (nothing half-written on the volume), and what a read_committed consumer sees (up to
    the last stable offset: the dead producer's open transaction is aborted when it times
    out, 10 s here) a gapless, whole, duplicate-free prefix of the run's posts."""
    env.load(2000)
    etc = config_dir(env, tmp_path, extra_kafka="  delivery: exactly_once\n"
                     "  settings: {transaction.timeout.ms: 10000, message.timeout.ms: 10000}\n")
    name = boxes.start("--rate", "300", mounts=[(etc, "/etc/pinpostd")])
    wait_flowing(boxes, name, env, env.instance, 100)
    podman("kill", "--signal", "KILL", name)
    assert boxes.wait(name) == 137
    assert not any((tmp_path / f"state-{name}").iterdir()), "something written at SIGKILL"
    posts = broker_posts(env, env.instance)
    partial = {s: sorted(p) for s, p in posts.items() if len(p) != 3}
    assert not partial, f"partial committed posts: {list(partial.items())[:10]}"
    assert sorted(posts) == list(range(1, len(posts) + 1)) and len(posts) >= 100, \
        f"committed posts are not 1..N: {len(posts)} posts, max {max(posts, default=0)}"


def test_broker_frozen_during_stop(boxes, env, tmp_path, kafka):
    """The broker SIGSTOPped while the container drains: pinpostd gives up after
    service.drain_timeout (not podman's SIGKILL after -t), exits 1 with the report on the
    volume counting the posts it could not confirm, and every post it counted delivered
    is whole in the broker once it is thawed."""
    env.load(2000)
    drain = 5
    etc = config_dir(env, tmp_path, extra_service=f"  drain_timeout: {drain}\n",
                     extra_kafka="  settings: {linger.ms: 200}\n")
    name = boxes.start("--rate", "300", mounts=[(etc, "/etc/pinpostd")])
    wait_flowing(boxes, name, env, env.instance, 200)
    os.kill(kafka.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)  # posts produced meanwhile are in flight at the stop
        t0 = time.monotonic()
        podman("stop", "-t", "60", name, timeout=120)
        took = time.monotonic() - t0
    finally:
        os.kill(kafka.proc.pid, signal.SIGCONT)
    rc = boxes.wait(name)
    TIMINGS["frozen_stop_s"] = took
    assert rc == 1, f"exit {rc} (137: killed by podman, the drain did not end)\n{boxes.logs(name)}"
    assert took < drain + 15, f"stop took {took:.1f} s with drain_timeout {drain}"
    rep = boxes.report(name)
    assert rep, boxes.logs(name)
    assert rep["posts_failed"] + rep["posts_unknown"] > 0, rep
    assert rep["posts_delivered"] + rep["posts_failed"] + rep["posts_unknown"] == \
        rep["posts_sampled"], rep
    posts = broker_posts(env, rep["instance"])
    whole = [s for s, p in posts.items() if len(p) == 3]
    assert len(whole) >= rep["posts_delivered"], (len(whole), rep)


@pytest.fixture(scope="module", autouse=True)
def _print_timings():
    yield
    if TIMINGS:
        print(f"\nimage tests: {json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})}")
