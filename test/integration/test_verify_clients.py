"""pinpost-verify connects as pinpostd does, through the one client layer: to the SASL/SCRAM
listener over TLS, to the MSK IAM stand-in with signed OAUTHBEARER tokens, and to a
TLS-only MariaDB account with source.tls: verify_identity for --rows. Each run is proved
whole (and equal to its rows). The --kinesis option's parsing and errors are here too; the
Kinesis read itself is tested against moto with the reader."""

import json
import subprocess
import time

import pytest

from aws_stubs import Imds, MotoServer, clean_aws_env
from conftest import PINPOST_VERIFY
from test_core import sasl_properties
from test_msk_iam import msk_env
from test_mysql_tls import configure, tls_env  # noqa: F401 (a fixture)

EXIT_UNVERIFIED = 2
EXIT_USAGE = 64
EXIT_CONFIG = 78


def verify_json(env, *args, child_env=None, timeout=180):
    """pinpost-verify on env's config, its JSON verdict (None when it printed none)."""
    p = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--json", "--timeout", "30",
                        *args], capture_output=True, text=True, timeout=timeout, env=child_env)
    lines = p.stdout.splitlines()
    return p, json.loads(lines[-1]) if lines else None


def run_and_report(env, count, child_env=None):
    """A pinpostd run of count posts into env's topics; the path of its report."""
    p, rep = env.run("--count", str(count), "--rate", "0", env=child_env, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    assert rep["posts_delivered"] == count
    return str(sorted(env.tmp.glob("report-*.json"), key=lambda f: f.stat().st_mtime)[-1])


def assert_verified(p, r, posts, rows=True):
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert r["result"] == "verified"
    assert r["posts_complete"] == posts
    assert r["posts_partial"] == r["posts_missing"] == r["duplicates"] == 0
    if rows:
        assert r["rows_checked"] == 3 * posts and r["rows_mismatched"] == 0


def test_verify_reads_the_scram_listener_over_tls(env):
    env.load(200)
    sasl_properties(env, env.kafka.ssl_bootstrap, "SCRAM-SHA-512", env.kafka.SASL_PASSWORD)
    report = run_and_report(env, 120)
    p, r = verify_json(env, "--run-report", report, "--rows")
    assert_verified(p, r, 120)
    assert env.kafka.SASL_PASSWORD not in p.stdout + p.stderr

    # A wrong password is a configuration error, as it is for pinpostd, said at once: the
    # verifier does not wait out --timeout to report "Broker transport failure".
    sasl_properties(env, env.kafka.ssl_bootstrap, "SCRAM-SHA-512", "Wrong-Verify-Pw")
    started = time.monotonic()
    p, r = verify_json(env, "--run-report", report, "--timeout", "60")
    assert p.returncode == EXIT_CONFIG, p.stdout + p.stderr[-3000:]
    assert time.monotonic() - started < 40
    assert r is None
    assert "Kafka rejected our credentials or TLS settings: " in p.stderr
    assert "Authentication failed" in p.stderr
    assert "Wrong-Verify-Pw" not in p.stdout + p.stderr


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    m = MotoServer(str(tmp_path_factory.mktemp("moto")))
    yield m
    m.close()


def test_verify_reads_the_msk_iam_cluster(env, moto):
    """The issue's client.properties (AWS_MSK_IAM, a role to assume): the broker's
    stand-in accepts only MSK IAM tokens signed with the assumed role's keys."""
    env.load(150)
    imds = Imds()
    try:
        child_env = msk_env(env, imds, moto)
        env.write_config(extra_kafka="  aws_region: us-east-1\n")
        open(env.kafka.token_log, "a").close()
        report = run_and_report(env, 100, child_env)
        before = open(env.kafka.token_log).read().count("ACCEPT ASIA")
        p, r = verify_json(env, "--run-report", report, "--rows", "-v", child_env=child_env)
        assert_verified(p, r, 100)
        assert "MSK IAM: new token for us-east-1" in p.stderr
        log = open(env.kafka.token_log).read()
        assert log.count("ACCEPT ASIA") > before, "the verifier sent no token"
        assert "REJECT" not in log
    finally:
        imds.close()


def test_verify_rows_over_tls_with_verify_identity(tls_env):  # noqa: F811
    env = tls_env  # its database user exists with REQUIRE SSL only
    configure(env, "verify_identity", env.db.tls["ca"])
    report = run_and_report(env, 40)
    p, r = verify_json(env, "--run-report", report, "--rows", "-v")
    assert_verified(p, r, 40)
    assert "MySQL connection encrypted (TLS" in p.stderr
    assert "tls: verify_identity)" in p.stderr

    # verify_identity checks the host name for the verifier too: a certificate naming
    # another host is refused before any row is read.
    env.db.serve_cert("wrong-name")
    p, r = verify_json(env, "--run-report", report, "--rows")
    assert p.returncode == EXIT_UNVERIFIED, p.stdout + p.stderr[-3000:]
    assert r is None
    assert ("--rows: connecting to MySQL at 127.0.0.1:" in p.stderr and
            "MySQL error 2026: TLS/SSL error: Validation of SSL server certificate failed "
            "(check that source.tls_ca" in p.stderr), p.stderr[-3000:]


@pytest.mark.parametrize("option,name", [(["-b", "127.0.0.1:9092"], "--bootstrap"),
                                         (["--bootstrap=127.0.0.1:9092"], "--bootstrap"),
                                         (["--read-uncommitted"], "--read-uncommitted")])
def test_kinesis_refuses_kafka_only_options(option, name):
    p = subprocess.run([PINPOST_VERIFY, "--kinesis", *option], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == EXIT_USAGE, p.stderr
    assert f"pinpost-verify: --kinesis: {name} reads Kafka" in p.stderr
    assert "Try 'pinpost-verify --help'." in p.stderr
    assert p.stdout == ""


def test_help_lists_kinesis():
    p = subprocess.run([PINPOST_VERIFY, "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert "--kinesis" in p.stdout


def test_kinesis_needs_no_kafka_and_an_unreachable_endpoint_cannot_verify(tmp_path):
    """--kinesis reads the streams of kinesis.*: no bootstrap.servers is needed, and an
    endpoint nobody answers is "could not verify" within the timeout, with no verdict."""
    (tmp_path / "pinpostd.yaml").write_text(
        "kafka:\n  enabled: false\n  topic_prefix: nokafka\n"
        "kinesis:\n  enabled: true\n  region: eu-west-1\n  endpoint: http://127.0.0.1:1\n")
    child_env = clean_aws_env(AWS_ACCESS_KEY_ID="AKIAVERIFYTEST000001",
                              AWS_SECRET_ACCESS_KEY="verify-test-secret", HOME=str(tmp_path))
    p = subprocess.run([PINPOST_VERIFY, "-c", str(tmp_path / "pinpostd.yaml"), "--kinesis",
                        "--json", "--timeout", "3"], capture_output=True, text=True,
                       timeout=120, env=child_env)
    assert p.returncode == EXIT_UNVERIFIED, p.stdout + p.stderr
    assert p.stdout == ""
    assert "no Kafka bootstrap servers" not in p.stderr
    assert "verify-test-secret" not in p.stderr
