"""Command line, exit codes and the self-contained demo (no servers needed)."""

import json
import subprocess

import pytest

from conftest import PINPOSTD, PINPOSTD_PLAIN, PINPOST_GEN, VALGRIND


def run(*args, timeout=60, cwd=None):
    return subprocess.run([PINPOSTD, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


@pytest.mark.parametrize("args", [
    ["--bogus"], ["--count"], ["--count", "-1"], ["--rate", "x"], ["--delay", "2:1"],
    ["extra-arg"], ["--rate", "5", "--delay", "0:1"], ["--seed", "1.5"],
])
def test_usage_errors_exit_64(args):
    p = run(*args)
    assert p.returncode == 64, p.stderr
    assert "pinpostd --help" in p.stderr


def test_help_and_version():
    assert run("--help").returncode == 0
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("pinpostd ")


@pytest.mark.parametrize("yaml,words", [
    ("source:\n  hots: x\n", "pinpostd.yaml:2: unknown key 'source.hots'"),
    ("emulation:\n  delay: fast\n", "pinpostd.yaml:2: emulation.delay"),
    ("source:\n  credentials: missing.yaml\n", "pinpostd.yaml:2: source.credentials: cannot open"),
    ("kafka:\n  topic_prefix: 'a b'\n", "kafka.topic_prefix"),
    ("kafka: [\n", "YAML syntax error"),
])
def test_bad_config_exits_78_with_file_line_key(tmp_path, yaml, words):
    cfg = tmp_path / "pinpostd.yaml"
    cfg.write_text(yaml)
    p = run("-c", str(cfg), "--dry-run", "--count", "1")
    assert p.returncode == 78, p.stderr
    assert words in p.stderr


def test_missing_config_file_exits_78(tmp_path):
    p = run("-c", str(tmp_path / "nope.yaml"))
    assert p.returncode == 78
    assert "nope.yaml: cannot open the configuration file" in p.stderr


def test_kafka_without_bootstrap_servers_exits_78(tmp_path):
    cfg = tmp_path / "pinpostd.yaml"
    cfg.write_text("kafka:\n  topic_prefix: x\n")
    p = run("-c", str(cfg), "--count", "1")
    assert p.returncode == 78
    assert "bootstrap" in p.stderr


def test_unknown_librdkafka_property_names_its_origin(tmp_path):
    (tmp_path / "client.properties").write_text("bootstrap.servers=127.0.0.1:1\n\nno.such.prop=1\n")
    cfg = tmp_path / "pinpostd.yaml"
    cfg.write_text("kafka:\n  properties: client.properties\n")
    p = run("-c", str(cfg), "--count", "1")
    assert p.returncode == 78
    assert "client.properties:3: unknown Kafka client property 'no.such.prop'" in p.stderr


def test_demo_dry_run_is_deterministic():
    a = run("--demo", "--dry-run", "--seed", "7", "--count", "1000")
    b = run("--demo", "--dry-run", "--seed", "7", "--count", "1000")
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout
    lines = [json.loads(line) for line in a.stdout.splitlines()]
    assert len(lines) == 3000
    for i in range(0, 3000, 3):
        pin, geo, user = lines[i:i + 3]
        assert [pin["topic"], geo["topic"], user["topic"]] == \
            ["pinpostd.pin", "pinpostd.geo", "pinpostd.user"]
        assert pin["key"] == geo["key"] == user["key"] == str(pin["value"]["index"])
        assert geo["value"]["ind"] == user["value"]["ind"] == pin["value"]["index"]
        assert pin["headers"]["pinpostd.seq"] == geo["headers"]["pinpostd.seq"] == str(i // 3 + 1)
    c = run("--demo", "--dry-run", "--seed", "8", "--count", "1000")
    assert c.stdout != a.stdout


def test_demo_runs_with_nothing_installed(tmp_path):
    report = tmp_path / "r.json"
    p = run("--demo", "--count", "30", "--rate", "100", "--report", str(report), timeout=120)
    assert p.returncode == 0, p.stderr
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 30 and rep["messages_delivered"] == 90
    assert rep["posts_failed"] == 0
    assert set(rep["latency_ms"]) == {"p50", "p90", "p95", "p99", "p999", "max", "count"}


def test_demo_foreground_prints_one_line_per_post_when_slow():
    p = run("--demo", "--count", "3", "--delay", "0.2:0.4", timeout=60)
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stderr.splitlines() if " delivered: category " in l]
    assert len(lines) == 3
    fast = run("--demo", "--count", "300", "--rate", "1000", timeout=60)
    assert fast.returncode == 0
    assert " delivered: category " not in fast.stderr


def test_generator_is_deterministic_and_streams():
    a = subprocess.run([PINPOST_GEN, "--posts", "500", "--seed", "3"], capture_output=True)
    b = subprocess.run([PINPOST_GEN, "--posts", "500", "--seed", "3"], capture_output=True)
    assert a.returncode == 0 and a.stdout == b.stdout
    text = a.stdout.decode()
    assert text.count("CREATE TABLE") == 3
    assert "User Info Error" in text and "N,o, ,T,a,g,s" in text
    c = subprocess.run([PINPOST_GEN, "--posts", "500", "--seed", "4"], capture_output=True)
    assert c.stdout != a.stdout


def test_demo_shutdown_is_valgrind_clean():
    import shutil
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is missing: run `make deps`")
    p = subprocess.run([*VALGRIND, PINPOSTD_PLAIN, "--demo", "--count", "40", "--rate", "200"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "definitely lost: 0 bytes" in p.stderr or "no leaks are possible" in p.stderr
