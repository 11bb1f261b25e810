"""pinpost-verify against hostile input: anybody who can write to the topics chooses the
pinpostd.seq header, and a run report may come from anywhere. Neither decides memory,
time or the program's survival; each is reported as a problem (exit 1) or refused as bad
input (exit 78)."""

import json
import subprocess

import pytest
from confluent_kafka import Producer

from conftest import PINPOST_VERIFY

EXIT_PROBLEMS = 1
EXIT_UNVERIFIED = 2
EXIT_CONFIG = 78


def produce_post(env, instance, seq, key=b"1"):
    """One message to each of the three topics, as pinpostd would write post seq."""
    prod = Producer({"bootstrap.servers": env.kafka.bootstrap})
    for topic in env.topics.values():
        prod.produce(topic, key=key, value=b"{}",
                     headers=[("pinpostd.instance", instance.encode()),
                              ("pinpostd.seq", str(seq).encode())])
    assert prod.flush(30) == 0


def verify(env, *args, timeout=120):
    p = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--timeout", "30", *args],
                       capture_output=True, text=True, timeout=timeout)
    return p


def verify_json(env, *args):
    p = verify(env, "--json", *args)
    assert p.stdout.strip(), f"exit {p.returncode}, no result\n{p.stderr[-3000:]}"
    return p, json.loads(p.stdout.splitlines()[-1])


@pytest.mark.parametrize("seq", [2**62 + 1, 2**34, 2**63 - 1])
def test_huge_seq_header_is_a_problem_not_a_crash(env, seq):
    env.load(50)
    _, rep = env.run("--count", "5", "--rate", "0", check_exit=0)
    assert rep["posts_delivered"] == 5
    produce_post(env, env.instance, seq)

    # Every instance, no expected count: the run owes every number up to the highest.
    p, r = verify_json(env)
    assert p.returncode == EXIT_PROBLEMS, p.stderr[-3000:]
    assert r["result"] == "problems"
    assert r["posts_complete"] == 6 and r["posts_partial"] == 0
    assert r["posts_missing"] == float(seq - 6)
    assert r["max_seq"] == float(seq)

    # The run's own count: the five posts are whole, the stranger is outside 1..5.
    report = str(sorted(env.tmp.glob("report-*.json"))[0])
    p, r = verify_json(env, "--run-report", report)
    assert p.returncode == EXIT_PROBLEMS, p.stderr[-3000:]
    assert r["posts_complete"] == 5
    assert r["posts_missing"] == 0 and r["posts_partial"] == 0
    assert r["posts_unexpected"] == 1

    human = verify(env, "--run-report", report)
    assert human.returncode == EXIT_PROBLEMS, human.stderr[-3000:]
    assert f"{env.instance} seq {seq} key 1: pin 1 geo 1 user 1 message(s), beyond" \
        in human.stdout
    assert "RESULT: PROBLEMS FOUND" in human.stdout


def test_huge_expect_finishes_and_lists_ten(env):
    env.load(50)
    env.run("--count", "3", "--rate", "0", check_exit=0)
    expect = 10**18
    p, r = verify_json(env, "--instance", env.instance, "--expect", str(expect))
    assert p.returncode == EXIT_PROBLEMS, p.stderr[-3000:]
    assert r["posts_complete"] == 3
    assert r["posts_missing"] == float(expect - 3)

    human = verify(env, "--instance", env.instance, "--expect", str(expect))
    assert human.returncode == EXIT_PROBLEMS, human.stderr[-3000:]
    listed = [line for line in human.stdout.splitlines() if line.startswith("  ")]
    assert listed == [f"  {env.instance} seq {s}: missing" for s in range(4, 14)]


def write_report(tmp_path, delivered, started):
    path = tmp_path / "rr.json"
    path.write_text(f'{{"instance":"x","posts_delivered":{delivered},'
                    f'"started_at_ms":{started}}}')
    return path


@pytest.mark.parametrize("delivered,started,field", [
    ("-1", "0", "posts_delivered"),
    ("1e300", "0", "posts_delivered"),
    ("1.5", "0", "posts_delivered"),
    ('"5"', "0", "posts_delivered"),
    ("1.0000000000000002e18", "0", "posts_delivered"),  # 1000000000000000256 > 1e18
    ("5", "-1", "started_at_ms"),
    ("5", "1e300", "started_at_ms"),
    ("5", "0.5", "started_at_ms"),
    ("5", '"0"', "started_at_ms"),
    ("5", "9.3e18", "started_at_ms"),  # beyond int64
])
def test_run_report_hostile_numbers_are_refused(tmp_path, delivered, started, field):
    path = write_report(tmp_path, delivered, started)
    p = subprocess.run([PINPOST_VERIFY, "-b", "127.0.0.1:1", "--timeout", "3",
                        "--run-report", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == EXIT_CONFIG, p.stderr[-3000:]
    assert f"{path}: {field}:" in p.stderr, p.stderr


@pytest.mark.parametrize("delivered,started", [("1e18", "0"), ("0", "1700000000000")])
def test_run_report_limits_are_accepted(tmp_path, delivered, started):
    # In range: read, then the unreachable broker makes it unverified (not bad input).
    path = write_report(tmp_path, delivered, started)
    p = subprocess.run([PINPOST_VERIFY, "-b", "127.0.0.1:1", "--timeout", "3",
                        "--run-report", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == EXIT_UNVERIFIED, p.stderr[-3000:]
