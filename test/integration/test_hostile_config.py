"""Numbers, names and files a hostile (or careless) user can hand pinpostd: every numeric
flag and every numeric YAML key at each edge value, duplicate keys, second documents,
byte order marks, NUL characters, JAAS lines that would echo a password, and the usage
messages of the three programs. No servers: `--check --demo --dry-run` validates the
configuration exactly as a run does, then prints the summary and exits."""

import json
import math
import os
import re
import subprocess

import pytest

from conftest import PINPOST_GEN, PINPOST_VERIFY, PINPOSTD

SECRET = "ret-PLANTED1"
INT64_MIN, INT64_MAX, UINT64_MAX = -2**63, 2**63 - 1, 2**64 - 1


def run(*args, cwd=None, prog=PINPOSTD):
    return subprocess.run([prog, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def write(path, data, mode=0o600):
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    os.chmod(path, mode)
    return path


# ---- the numeric limits, as documented in pinpostd.yaml(5) and pinpostd(8) ----

# key: (flag, kind, lo, hi, also): kind "real", "int" or "uint" (no sign at all); also is
# the one value outside [lo, hi] that means something (0 = unlimited, -1 = default).
LIMITS = {
    "emulation.rate": ("--rate", "real", 0.001, 1e9, 0),
    "emulation.duration": ("--duration", "real", 0.001, 1e12, 0),
    "emulation.count": ("--count", "int", 0, 10**18, None),
    "emulation.seed": ("--seed", "uint", 0, UINT64_MAX, None),
    "emulation.delay": ("--delay", "delay", 0, 86400, None),
    "source.port": (None, "int", 1, 65535, None),
    "source.connect_timeout": (None, "int", 1, 3600, None),
    "source.batch": (None, "int", 1, 1000, None),
    "source.keyspace_refresh": (None, "real", 0.1, 86400, None),
    "kafka.flush_timeout": (None, "real", 0, 86400, None),
    "kafka.transaction_interval": (None, "real", 0.001, 60, None),
    "kafka.partitions": (None, "int", 1, 100000, -1),
    "kafka.replication_factor": (None, "int", 1, 1000, -1),
    "kinesis.linger": (None, "real", 0, 10, None),
    "kinesis.record_timeout": (None, "real", 1, 86400, None),
    "kinesis.max_requests": (None, "int", 1, 64, None),
    "service.summary_interval": (None, "real", 0, 86400, None),
    "service.drain_timeout": (None, "real", 0, 86400, None),
}

# Every key and flag meets these; each has one clear answer, worked out by accepts().
EDGES = ["nan", "NaN", ".nan", "inf", "-inf", "infinity", "-0", "0", "1e-13", "1e300",
         "1e400", "1e-400", str(INT64_MIN), str(INT64_MAX), str(UINT64_MAX),
         str(UINT64_MAX + 1), "0x10", "0x1p3", " 5", "5 ", "5x", "5 posts", "", "1.5", "1e3",
         "+7", "1_000", "--1"]

REAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
INT = re.compile(r"[+-]?[0-9]+\Z")
UINT = re.compile(r"\+?[0-9]+\Z")


def parse_real(text):
    """The value of a strict decimal number, or None: no spaces, hex, inf or nan; a
    magnitude a double cannot hold (overflow, or a non-zero that underflows) is refused."""
    if not REAL.match(text):
        return None
    v = float(text)
    if math.isinf(v) or (v == 0 and re.search(r"[1-9]", text.split("e")[0].split("E")[0])):
        return None
    return abs(v) if v == 0 else v


def accepts(key, text):
    """The value pinpostd must take for text, or None when it must refuse it."""
    _, kind, lo, hi, also = LIMITS[key]
    if kind == "delay":
        if ":" not in text:
            return None
        a, b = text.split(":", 1)
        a, b = parse_real(a), parse_real(b)
        if a is None or b is None or not (lo <= a <= hi and lo <= b <= hi) or a > b:
            return None
        return (a, b)
    if kind == "real":
        v = parse_real(text)
    else:
        v = int(text) if (UINT if kind == "uint" else INT).match(text) else None
        if v is not None and kind == "int" and not INT64_MIN <= v <= INT64_MAX:
            v = None
    if v is None or not (lo <= v <= hi or v == also):
        return None
    return v


def boundaries(key):
    """The limits themselves and one step past each."""
    _, kind, lo, hi, also = LIMITS[key]
    if kind == "delay":
        return ["0:86400", "1.5:1.5", "2:1", "0:86401", "86400.001:86400.001", "-1:0", ":1",
                "1:", "1:2:3", "nan:1", "0:inf", " 0:1", "0:1 ", "0x1:2", "-0:1", "1e300:1e300"]
    if kind == "real":
        vals = [repr(lo), repr(hi), repr(lo * 0.999) if lo else "-0.001", repr(hi * 1.001)]
    else:
        vals = [str(lo), str(hi), str(lo - 1), str(hi + 1)]
    if also is not None:
        vals.append(str(also))
    return vals


def numeric_cases():
    for key in LIMITS:
        for text in dict.fromkeys(boundaries(key) + EDGES):
            yield key, text


CASES = list(numeric_cases())


def shown(v):
    """The value as the --check summary prints it (C's %g, %llu)."""
    return "%g" % v if isinstance(v, float) else str(v)


@pytest.mark.parametrize("key,text", CASES, ids=[f"{k}={t!r}" for k, t in CASES])
def test_numeric_yaml_key_edge_value(tmp_path, key, text):
    section, name = key.split(".")
    cfg = write(tmp_path / "pinpostd.yaml", f"{section}:\n  {name}: {json.dumps(text)}\n", 0o644)
    # --dry-run replaces the file's pacing with "unpaced": check those keys without it (the
    # demo's in-process cluster stands in for Kafka).
    dry = [] if key in ("emulation.rate", "emulation.delay") else ["--dry-run"]
    p = run("-c", str(cfg), "--check", "--demo", *dry)
    want = accepts(key, text)
    if want is None:
        assert p.returncode == 78, p.stdout + p.stderr
        assert f"pinpostd.yaml:2: {key}: " in p.stderr, p.stderr
        assert "configuration error" in p.stderr
    else:
        assert p.returncode == 0, p.stderr
        if key == "emulation.rate" and want:
            assert f"  rate: {shown(float(want))} posts/s\n" in p.stdout
        elif key == "emulation.count":
            assert f"  count: {want}" in p.stdout
        elif key == "emulation.seed":
            assert f"  seed: {want}\n" in p.stdout
        elif key == "emulation.delay":
            assert f"  delay: {shown(want[0])}:{shown(want[1])} s\n" in p.stdout
        elif key == "emulation.duration":
            assert f"  duration: {shown(float(want))}s" in p.stdout


FLAG_CASES = [(k, t) for k, t in CASES if LIMITS[k][0]]


@pytest.mark.parametrize("key,text", FLAG_CASES, ids=[f"{LIMITS[k][0]}={t!r}" for k, t in FLAG_CASES])
def test_numeric_flag_edge_value(key, text):
    flag = LIMITS[key][0]
    # The separate-argument form: the value may start with '-' and still be the value.
    p = run("--check", "--demo", "--dry-run", flag, text)
    want = accepts(key, text)
    if want is None:
        assert p.returncode == 64, p.stdout + p.stderr
        assert p.stderr.startswith(f"pinpostd: {flag}: "), p.stderr
        assert p.stderr.endswith("Try 'pinpostd --help'.\n")
        assert p.stdout == ""
    else:
        assert p.returncode == 0, p.stderr
        if key == "emulation.rate" and want:
            assert f"  rate: {shown(float(want))} posts/s\n" in p.stdout
        elif key == "emulation.count":
            assert f"  count: {want}" in p.stdout
        elif key == "emulation.seed":
            assert f"  seed: {want}\n" in p.stdout
        elif key == "emulation.delay":
            assert f"  delay: {shown(want[0])}:{shown(want[1])} s\n" in p.stdout
        elif key == "emulation.duration":
            assert f"  duration: {shown(float(want))}s" in p.stdout


def test_flag_and_file_share_limits_and_reason(tmp_path):
    cfg = write(tmp_path / "pinpostd.yaml", "emulation:\n  duration: 1e300\n", 0o644)
    f = run("-c", str(cfg), "--check", "--demo", "--dry-run")
    c = run("--check", "--demo", "--dry-run", "--duration", "1e300")
    reason = "'1e300' is not a number from 0.001 to 1e+12 seconds, or 0 (no limit)"
    assert (f.returncode, c.returncode) == (78, 64)
    assert f"pinpostd.yaml:2: emulation.duration: {reason}\n" in f.stderr
    assert c.stderr == f"pinpostd: --duration: {reason}\nTry 'pinpostd --help'.\n"


def test_rate_below_the_minimum_is_refused_not_run_unpaced():
    p = run("--demo", "--dry-run", "--count", "3", "--rate", "1e-13")
    assert p.returncode == 64, p.stderr
    assert p.stdout == ""  # nothing was posted


def test_seed_logged_from_the_whole_64_bit_range_can_be_replayed():
    a = run("--demo", "--dry-run", "--count", "3", "--seed", str(UINT64_MAX))
    b = run("--demo", "--dry-run", "--count", "3", "--seed", str(UINT64_MAX))
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 9
    assert f"seed {UINT64_MAX}" in a.stderr


# ---- usage messages name the option and the reason, in all three programs ----

USAGE = [
    (PINPOSTD, ["--delay", "2:1"], "--delay", "2:1", "MIN is greater than MAX"),
    (PINPOSTD, ["--delay=2:1"], "--delay", "2:1", "MIN is greater than MAX"),
    (PINPOSTD, ["-n-42"], "-n", "-42", "is not a whole number from 0 to"),
    (PINPOSTD, ["--count=4.5"], "--count", "4.5", "is not a whole number"),
    (PINPOSTD, ["-r", "7e-13"], "-r", "7e-13", "from 0.001 to 1e+09 posts/s"),
    (PINPOSTD, ["--seed=-3"], "--seed", "-3", "is not a whole number from 0 to 18446744073709551615"),
    (PINPOST_GEN, ["--gaps=7.5"], "--gaps", "7.5", "is not a fraction from 0 to 1"),
    (PINPOST_GEN, ["-n-42"], "-n", "-42", "is not a whole number from 0 to 2147483647"),
    (PINPOST_GEN, ["--seed", "0x99"], "--seed", "0x99", "is not a whole number"),
    (PINPOST_VERIFY, ["--expect=4.5"], "--expect", "4.5", "is not a whole number"),
    (PINPOST_VERIFY, ["-e-42"], "-e", "-42", "is not a whole number"),
    (PINPOST_VERIFY, ["--timeout=1e300"], "--timeout", "1e300", "from 0.001 to 86400 seconds"),
    (PINPOST_VERIFY, ["--since", "77x"], "--since", "77x", "is not a whole number of ms"),
]


@pytest.mark.parametrize("prog,args,option,value,reason", USAGE,
                         ids=[f"{os.path.basename(u[0])} {' '.join(u[1])}" for u in USAGE])
def test_usage_error_names_option_and_reason(prog, args, option, value, reason):
    p = run(*args, prog=prog)
    assert p.returncode == 64, p.stderr
    name = os.path.basename(prog)
    assert f"{name}: {option}: '{value}' " in p.stderr or f"{name}: {option}: '{value}':" in p.stderr, p.stderr
    assert reason in p.stderr
    assert p.stderr.count(value) == 1, p.stderr  # the value once, not twice


@pytest.mark.parametrize("args,words", [
    (["--check=1"], "option -t/--check takes no value"),
    (["--duration"], "option --duration needs a value"),
    (["--bogus=PLANTED"], "unknown or ambiguous option --bogus\n"),
    (["-x"], "unknown option -x"),
    (["-c", ""], "-c: the file name is empty"),
    (["--report="], "--report: the file name is empty"),
])
def test_other_usage_errors_name_the_option(args, words):
    p = run(*args)
    assert p.returncode == 64
    assert f"pinpostd: {words}" in p.stderr
    assert "PLANTED" not in p.stderr


# ---- names that pass the character check but not Kafka ----

@pytest.mark.parametrize("yaml,words", [
    ("kafka:\n  topics:\n    pin: '.'\n", "topic name '.' for pin is not a valid Kafka topic name"),
    ("kafka:\n  topics:\n    geo: '..'\n", "topic name '..' for geo"),
    ("kafka:\n  topic_prefix: x\n  topics:\n    user: '..'\n", "topic name '..' for user"),
    ("kafka:\n  bootstrap_servers: ''\n", "pinpostd.yaml:2: bootstrap.servers is empty"),
    ("kafka:\n  bootstrap_servers: ' ,, '\n", "pinpostd.yaml:2: bootstrap.servers is empty"),
    ("kafka:\n  enabled: false\nkinesis:\n  enabled: true\n  streams:\n    pin: '..'\n",
     "stream name '..' for pin"),
])
def test_unusable_names_are_configuration_errors(tmp_path, yaml, words):
    cfg = write(tmp_path / "pinpostd.yaml", yaml, 0o644)
    p = run("-c", str(cfg), "--check", "--demo", "--dry-run")
    assert p.returncode == 78, p.stdout + p.stderr
    assert words in p.stderr


def test_empty_bootstrap_servers_in_client_properties_is_a_configuration_error(tmp_path):
    write(tmp_path / "client.properties", "# no brokers\nbootstrap.servers=\n")
    cfg = write(tmp_path / "pinpostd.yaml", "kafka:\n  properties: client.properties\n", 0o644)
    # Not --demo: a run that would otherwise retry an empty broker list forever.
    p = subprocess.run([PINPOSTD, "-c", str(cfg), "--count", "1", "--rate", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 78, p.stderr
    assert "client.properties:2: bootstrap.servers is empty" in p.stderr


# ---- duplicate keys, second documents, BOMs and NULs ----

CREDS = "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: pw\nRDS_DATABASE: d\n"


@pytest.mark.parametrize("yaml,creds,words", [
    ("emulation:\n  rate: 5\n  count: 1\n  rate: 50\n", None,
     "pinpostd.yaml:4: duplicate key 'emulation.rate' (first at line 2)"),
    ("service:\n  instance: a\nemulation:\n  count: 1\nservice:\n  instance: b\n", None,
     "pinpostd.yaml:5: duplicate key 'service' (first at line 1)"),
    ("source:\n  credentials: c.yaml\n", CREDS + "RDS_HOST: other\n",
     "c.yaml:6: duplicate key 'RDS_HOST' (first at line 1)"),
    ("emulation:\n  rate: 5\n---\nemulation:\n  rate: 50\n", None,
     "pinpostd.yaml:3: a second YAML document starts here"),
    ("source:\n  credentials: c.yaml\n", CREDS + "---\nRDS_HOST: other\n",
     "c.yaml:6: a second YAML document starts here"),
    ('service:\n  instance: "ab\\0cd"\n', None,
     "pinpostd.yaml:2: service.instance: the value holds a NUL"),
    ("source:\n  credentials: c.yaml\n", CREDS.replace("pw", '"p\\0w"'),
     "RDS_PASSWORD: the value holds a NUL"),
])
def test_yaml_ambiguities_are_configuration_errors(tmp_path, yaml, creds, words):
    if creds is not None:
        write(tmp_path / "c.yaml", creds)
    cfg = write(tmp_path / "pinpostd.yaml", yaml, 0o644)
    p = run("-c", str(cfg), "--check", "--demo", "--dry-run")
    assert p.returncode == 78, p.stdout + p.stderr
    assert words in p.stderr
    assert "other" not in p.stderr


BOM = b"\xef\xbb\xbf"


def test_utf8_bom_is_accepted_in_all_three_files(tmp_path):
    write(tmp_path / "c.yaml", BOM + CREDS.replace("RDS_PORT: 1", "RDS_PORT: 3307").encode())
    write(tmp_path / "k.properties", BOM + b"bootstrap.servers=127.0.0.1:1\nclient.id=bom-test\n")
    cfg = write(tmp_path / "pinpostd.yaml", BOM + b"source:\n  credentials: c.yaml\nkafka:\n"
                b"  properties: k.properties\n", 0o644)
    p = run("-c", str(cfg), "--check", "--demo", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "  port: 3307\n" in p.stdout
    assert "  bootstrap.servers = 127.0.0.1:1" in p.stdout
    assert "  client.id = bom-test" in p.stdout


@pytest.mark.parametrize("props", [
    b"bootstrap.servers=127.0.0.1:1\nsasl.password=sec1\\u0000sec2\n",
    b"bootstrap.servers=127.0.0.1:1\nsasl.password=sec1\x00sec2\n",
])
def test_nul_in_client_properties_is_refused(tmp_path, props):
    write(tmp_path / "k.properties", props)
    cfg = write(tmp_path / "pinpostd.yaml", "kafka:\n  properties: k.properties\n", 0o644)
    p = run("-c", str(cfg), "--check", "--demo", "--dry-run")
    assert p.returncode == 78, p.stdout + p.stderr
    assert "k.properties:2: a NUL character" in p.stderr
    assert "sec1" not in p.stderr and "sec2" not in p.stderr


# ---- JAAS values never reach a message ----

@pytest.mark.parametrize("jaas", [
    f'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password=sec {SECRET};',
    f'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password=sec {SECRET}=1;',
    f'org.apache.kafka.common.security.plain.PlainLoginModule required password="sec"{SECRET}";',
    f'org.apache.kafka.common.security.plain.PlainLoginModule {SECRET} password=x;',
    f'{SECRET} required;',
])
def test_malformed_jaas_never_echoes_the_password(tmp_path, jaas):
    write(tmp_path / "k.properties", "bootstrap.servers=127.0.0.1:1\nsasl.mechanism=PLAIN\n"
          f"sasl.jaas.config={jaas}\n")
    cfg = write(tmp_path / "pinpostd.yaml", "kafka:\n  properties: k.properties\n", 0o644)
    p = run("-c", str(cfg), "--check", "--demo", "--dry-run", "-vv")
    assert p.returncode == 78, p.stdout + p.stderr
    assert "k.properties:3: sasl.jaas.config" in p.stderr
    assert "PLANTED" not in p.stdout + p.stderr
