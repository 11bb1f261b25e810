"""librdkafka versions: SASL re-authentication (KIP-368, librdkafka 2.2.0) with Amazon MSK
IAM, the start-up warning on older libraries, and a quiet idempotent start.

A broker of its own (module fixture) with connections.max.reauth.ms on the MSK IAM stand-in:
the broker gives each OAUTHBEARER session the lesser of that and the token's lifetime, and
closes a connection that sends a request after its session ended without re-authenticating,
as MSK does when an IAM token expires. Its socket-server metrics (JMX) count what happened:
successful re-authentications, connections killed on expiry, connections created.

Two builds: the host's (Debian 12, librdkafka 2.0.2) always; the Debian 13 build (librdkafka
2.8.0) made by `make test-trixie` (test/trixie/run), which sets PINPOSTD_TRIXIE_IMAGE and
PINPOSTD_TRIXIE_BUILD and runs this file; that build runs in a container of that image on the
host's network. What each must show depends on the library it runs with, not on its name."""

import ctypes
import json
import os
import re
import subprocess
import time
import uuid

import pytest

from aws_stubs import Imds, clean_aws_env
from conftest import KAFKA_LIBS, PINPOST_VERIFY, PINPOSTD, Env, StderrLog, verify
from servers import Kafka

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REAUTH_MS = 10_000
RUN_S = 36  # over 3x the session lifetime
TRIXIE_IMAGE = os.environ.get("PINPOSTD_TRIXIE_IMAGE")
TRIXIE_BUILD = os.environ.get("PINPOSTD_TRIXIE_BUILD")
CONTAINER = os.path.join(REPO, "scripts", "container")

MSK_PROPERTIES = """\
security.protocol = SASL_SSL
sasl.mechanism = AWS_MSK_IAM
sasl.jaas.config = software.amazon.msk.auth.iam.IAMLoginModule required;
sasl.client.callback.handler.class = software.amazon.msk.auth.iam.IAMClientCallbackHandler
ssl.truststore.type = PEM
ssl.truststore.location = ca.pem
"""
WARNING = re.compile(r" warning: MSK IAM with librdkafka \S+ which predates SASL "
                     r"re-authentication")
# A foreground line at notice or above: "<date> <time> pinpostd LEVEL: message".
LOUD = re.compile(r" (emerg|alert|crit|error|warning|notice): ")


def host_librdkafka():
    """(major, minor, patch) of the librdkafka the host's pinpostd loads."""
    lib = ctypes.CDLL("librdkafka.so.1")
    lib.rd_kafka_version.restype = ctypes.c_int
    v = lib.rd_kafka_version()
    return (v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff


def trixie_librdkafka():
    p = subprocess.run([CONTAINER, "podman", "run", "--rm", "--network", "host",
                        "--name", f"pp-trixie-ver-{uuid.uuid4().hex[:8]}", TRIXIE_IMAGE,
                        "pkg-config", "--modversion", "rdkafka"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return tuple(int(x) for x in p.stdout.strip().split(".")[:3])


@pytest.fixture(scope="module")
def reauth_kafka():
    """A fresh broker: its first idempotent producer meets the transaction coordinator
    still loading, and its OAUTHBEARER sessions last REAUTH_MS at most."""
    if not os.path.isdir(KAFKA_LIBS):
        pytest.fail(f"Kafka jars missing in {KAFKA_LIBS}: run `make kafka-jars`")
    k = Kafka(KAFKA_LIBS, reauth_ms=REAUTH_MS, jmx=True)
    try:
        k.start()
        yield k
    finally:
        k.destroy()


@pytest.fixture
def renv(tmp_path, mariadb, reauth_kafka):
    return Env(tmp_path, mariadb, reauth_kafka)


def msk_config(env, imds):
    """client.properties for MSK IAM against the broker's TLS listener; the child's
    environment with credentials from the loopback IMDS."""
    import shutil
    shutil.copy(env.kafka.ca_pem, env.tmp / "ca.pem")
    env.props.write_text(MSK_PROPERTIES + f"bootstrap.servers = {env.kafka.ssl_bootstrap}\n")
    env.write_config(extra_kafka="  aws_region: us-east-1\n")
    return clean_aws_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint,
                         AWS_EC2_METADATA_DISABLED="false", HOME=str(env.tmp))


class Trixie:
    """pinpostd of the Debian 13 build, run in a container of the build image with the
    host's network; the test's files and the sanitizer log directory mounted at their own
    paths. Removed on every exit path."""

    PASS_ENV = ("HOME", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS")

    def __init__(self, tmp):
        self.name = f"pp-trixie-run-{uuid.uuid4().hex[:8]}"
        self.tmp = str(tmp)

    def argv(self, child_env, *args):
        cmd = [CONTAINER, "podman", "run", "--rm", "--name", self.name, "--network", "host",
               "-v", f"{REPO}:{REPO}:ro", "-v", f"{self.tmp}:{self.tmp}", "-w", self.tmp]
        logs = os.environ.get("SANITIZER_LOGS")
        if logs:
            cmd += ["-v", f"{logs}:{logs}"]
        for k, v in child_env.items():
            if k.startswith("AWS_") or k in self.PASS_ENV:
                cmd += ["-e", f"{k}={v}"]
        return cmd + [TRIXIE_IMAGE, os.path.join(TRIXIE_BUILD, "asan-bin", "pinpostd"), *args]

    def remove(self):
        subprocess.run([CONTAINER, "podman", "rm", "-f", self.name], capture_output=True,
                       timeout=120)


def session_run(env, build, tmp_path):
    """pinpostd with MSK IAM at 10 posts/s for RUN_S seconds against the re-authenticating
    broker. Returns (stderr, report, broker metric deltas, token log lines, seconds)."""
    imds = Imds(lifetime=20)  # short-lived keys: a new token about every 16 s
    trixie = Trixie(tmp_path) if build == "trixie" else None
    proc = None
    try:
        child_env = msk_config(env, imds)
        report = env.tmp / "report.json"
        args = ["-c", str(env.config), "--rate", "10", "--duration", str(RUN_S),
                "--report", str(report)]
        argv = trixie.argv(child_env, *args) if trixie else [PINPOSTD, *args]
        k = env.kafka
        open(k.token_log, "a").close()
        tokens_before = len(open(k.token_log).read().splitlines())
        before = k.socket_metrics()
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=child_env)
        log = StderrLog(proc)
        # The start-up connections: the first post delivered (a summary line counts it).
        assert log.wait_for(r"MSK IAM: new token", 120), log.text()[-3000:]
        line = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            line = log.wait_for(r"delivered[ =:]+[1-9]", 2)
            if line:
                break
        assert line, "no post delivered\n" + log.text()[-3000:]
        settled = k.socket_metrics()
        proc.wait(timeout=RUN_S + 180)
        seconds = time.monotonic() - t0
        log.thread.join(timeout=10)
        after = k.socket_metrics()
        tokens = open(k.token_log).read().splitlines()[tokens_before:]
        assert proc.returncode == 0, f"exit {proc.returncode}\n{log.text()[-4000:]}"
        delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
        delta["connections-after-start"] = (after.get("connection-creation-total", 0) -
                                            settled.get("connection-creation-total", 0))
        return log.text(), report, delta, tokens, seconds
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if trixie:
            trixie.remove()
        imds.close()


def test_idempotent_start_logs_no_coordinator_chatter_above_info(renv):
    """The first producer of a fresh broker: acquiring the idempotent producer id meets
    "Coordinator load in progress", which librdkafka retries by itself. Shown at info,
    never at notice or above; the posts arrive."""
    renv.load(50)
    p, rep = renv.run("--count", "50", "--rate", "0", timeout=180, check_exit=0)
    loud = [ln for ln in p.stderr.splitlines()
            if LOUD.search(ln) and re.search(r"GETPID|Coordinator load|Coordinator not "
                                             r"available|Not coordinator", ln)]
    assert not loud, "\n".join(loud)
    seen = [ln for ln in p.stderr.splitlines() if "GETPID" in ln]
    # What the broker said, at info: proof that the start met it (a fresh broker).
    print(f"coordinator retries at info: {len(seen)}", *seen[:3], sep="\n  ")
    assert all(" info: " in ln for ln in seen), seen
    assert rep["posts_failed"] == 0
    verify(renv, 50)


@pytest.mark.parametrize("build", ["bookworm", "trixie"])
def test_msk_iam_session_expiry(renv, build, tmp_path):
    """Over ~3.6 sessions: with librdkafka >= 2.2.0 the token is refreshed on the live
    connections by re-authentication (>= 2 re-authentications, later tokens signed with
    new keys, no connection killed, none created after start); before 2.2.0 the broker
    kills expired connections and the client reconnects, and pinpostd said so once at
    start. Every post arrives either way."""
    if build == "trixie":
        if not (TRIXIE_IMAGE and TRIXIE_BUILD):
            pytest.skip("the Debian 13 build runs under `make test-trixie` "
                        "(PINPOSTD_TRIXIE_IMAGE/PINPOSTD_TRIXIE_BUILD unset)")
        version = trixie_librdkafka()
    else:
        version = host_librdkafka()
    renv.load(RUN_S * 10 + 100)
    err, report, d, tokens, seconds = session_run(renv, build, tmp_path)
    rep = json.loads(report.read_text())
    reauth = d.get("successful-reauthentication-total", 0)
    killed = d.get("expired-connections-killed-count", 0)
    created = d.get("connection-creation-total", 0)
    after_start = d["connections-after-start"]
    keys = [t.split()[1] for t in tokens if t.startswith("ACCEPT")]
    disconnects = len(re.findall(r"Disconnected", err))
    warnings = len(WARNING.findall(err))
    print(f"{build} (librdkafka {'.'.join(map(str, version))}): {seconds:.1f} s, "
          f"re-authentications {reauth:.0f}, connections killed on expiry {killed:.0f}, "
          f"connections created {created:.0f} ({after_start:.0f} after start), "
          f"tokens accepted {len(keys)} with {len(set(keys))} keys, 'Disconnected' lines "
          f"{disconnects}, start-up warning {warnings}x, posts {rep['posts_delivered']}")
    print(*[ln for ln in err.splitlines() if "Disconnected" in ln][:3], sep="\n  ")
    assert not [t for t in tokens if t.startswith("REJECT")], tokens
    assert d.get("failed-reauthentication-total", 0) == 0
    if version >= (2, 2, 0):
        assert reauth >= 2, d
        assert killed == 0, d
        assert after_start == 0, d
        # A refreshed token reached the broker over a connection made before it.
        assert len(set(keys)) >= 2, keys
        assert warnings == 0, err[-3000:]
    else:
        assert reauth == 0, d
        assert killed >= 2, d
        assert after_start >= 2, d
        assert warnings == 1, err[-3000:]
        for ln in err.splitlines():
            if "Disconnected" in ln:
                assert not LOUD.search(ln) or " warning: " in ln, ln
    assert rep["posts_failed"] == 0
    # Read back over the plaintext listener: pinpost-verify against the run's report, and
    # the tier's own consumer.
    renv.props.write_text(f"bootstrap.servers = {renv.kafka.bootstrap}\n")
    renv.write_config()
    p = subprocess.run([PINPOST_VERIFY, "-c", str(renv.config), "--json", "--timeout", "30",
                        "--run-report", str(report)], capture_output=True, text=True,
                       timeout=180)
    r = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else None
    assert p.returncode == 0 and r and r["result"] == "verified", p.stderr + p.stdout
    assert r["posts_complete"] == rep["posts_delivered"]
    assert r["posts_partial"] == r["posts_missing"] == r["duplicates"] == 0
    verify(renv, rep["posts_delivered"], check_rows=False)
