"""Bad input a user can hand pinpostd: each case asserts the exit status and the words the
user sees. (More cases, with the database, belong here as they are added.)"""

import os
import subprocess

import pytest

from conftest import PINPOSTD

SECRET = "Planted-Secret-Value-4711"


def run(*args, cwd=None, timeout=60):
    return subprocess.run([PINPOSTD, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def write(path, text, mode=0o600):
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    os.chmod(path, mode)
    return path


CASES = [
    # (name, yaml, extra files {name: (text, mode)}, exit, words)
    ("empty file is the defaults, which need Kafka settings", "", {}, 78, "bootstrap"),
    ("binary", b"\x00\xff\xfe\x00garbage", {}, 78, "YAML syntax error"),
    ("unknown key with a suggestion", "source:\n  hots: x\n", {}, 78,
     "pinpostd.yaml:2: unknown key 'source.hots'; did you mean 'source.host'?"),
    ("unknown section", "sauce: {}\n", {}, 78,
     "unknown key 'sauce'; did you mean 'source"),
    ("wrong type", "source:\n  port: [1]\n", {}, 78,
     "pinpostd.yaml:2: source.port: expected a single value"),
    ("invalid topic", "kafka:\n  topic_prefix: 'no spaces'\n", {}, 78,
     "not a valid Kafka topic name"),
    ("world-writable credentials", "source:\n  credentials: c.yaml\n",
     {"c.yaml": ("RDS_HOST: h\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: " + SECRET +
                 "\nRDS_DATABASE: d\n", 0o666)}, 78, "writable by group or others (mode 0666)"),
    ("group-writable client.properties", "kafka:\n  properties: k.properties\n",
     {"k.properties": ("bootstrap.servers=x:1\n", 0o620)}, 78, "chmod 600"),
    ("alias bomb stays bounded", "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n", {}, 78, "unknown key 'a'"),
]


@pytest.mark.parametrize("name,yaml,files,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_config(tmp_path, name, yaml, files, status, words):
    cfg = write(tmp_path / "pinpostd.yaml", yaml, 0o644)
    for fname, (text, mode) in files.items():
        write(tmp_path / fname, text, mode)
    p = run("-c", str(cfg), "--count", "1")
    assert p.returncode == status, p.stderr
    assert words in p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_directory_as_config(tmp_path):
    p = run("-c", str(tmp_path))
    assert p.returncode == 78 and "is not a regular file" in p.stderr


def test_oversized_config(tmp_path):
    cfg = write(tmp_path / "big.yaml", "# " + "x" * (2 << 20) + "\n", 0o644)
    p = run("-c", str(cfg))
    assert p.returncode == 78 and "more than a configuration file can be" in p.stderr


def test_readable_secrets_are_warned_about_but_accepted(tmp_path):
    write(tmp_path / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n", 0o644)
    cfg = write(tmp_path / "pinpostd.yaml", "source:\n  credentials: c.yaml\n", 0o644)
    p = run("-c", str(cfg), "--check", "--dry-run")
    assert "readable by group or others (mode 0644)" in p.stderr
    assert p.returncode == 1  # nothing listens on port 1: unreachable, not misconfigured
    assert SECRET not in p.stdout + p.stderr


def test_secrets_never_in_any_output_at_any_verbosity(tmp_path):
    write(tmp_path / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n")
    write(tmp_path / "k.properties", "bootstrap.servers=127.0.0.1:1\nsecurity.protocol=SASL_PLAINTEXT\n"
          "sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain."
          f'PlainLoginModule required username="u" password="{SECRET}";\n')
    cfg = write(tmp_path / "pinpostd.yaml", "source:\n  credentials: c.yaml\nkafka:\n"
                "  properties: k.properties\n", 0o644)
    for args in (["--check", "-vv"], ["--check", "--dry-run", "-vvv"]):
        p = run("-c", str(cfg), *args, timeout=120)
        assert SECRET not in p.stdout + p.stderr, args
        assert "redacted" in p.stdout


def test_core_dumps_are_disabled():
    import signal
    import time
    proc = subprocess.Popen([PINPOSTD, "--demo", "--rate", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        limits = open(f"/proc/{proc.pid}/limits").read()
        core = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
