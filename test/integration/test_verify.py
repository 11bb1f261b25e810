"""pinpost-verify: proves a clean run, and finds every kind of injected fault."""

import json
import os
import subprocess

from confluent_kafka import Producer

from conftest import PINPOST_VERIFY, PINPOSTD

VERIFY = PINPOST_VERIFY


def verify_tool(env, *args):
    p = subprocess.run([VERIFY, "-c", str(env.config), "--json", "--timeout", "30", *args],
                       capture_output=True, text=True, timeout=180)
    result = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else None
    return p, result


def test_clean_run_verifies_with_rows(env):
    env.load(1000)
    _, rep = env.run("--count", "800", "--rate", "0", "--seed", "4", check_exit=0)
    p, r = verify_tool(env, "--run-report", str(sorted(env.tmp.glob("report-*.json"))[0]),
                       "--rows")
    assert p.returncode == 0, p.stderr + p.stdout
    assert r["result"] == "verified"
    assert r["posts_complete"] == rep["posts_delivered"] == 800
    assert r["posts_partial"] == r["posts_missing"] == r["duplicates"] == 0
    assert r["rows_checked"] == 2400 and r["rows_mismatched"] == 0


def test_injected_faults_are_each_found(env):
    env.load(200)
    dry = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "20",
                          "--seed", "8"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    msgs = [json.loads(line) for line in dry.stdout.splitlines()]
    out = []
    for m in msgs:
        seq = int(m["headers"]["pinpostd.seq"])
        table = m["topic"].rsplit(".", 1)[1]
        if seq == 5 and table == "user":
            continue                        # partial post
        if seq == 7:
            continue                        # missing post
        if seq == 9 and table == "geo":
            m["value"]["country"] = "Atlantis"  # value not matching its row
        out.append(m)
        if seq == 3 and table == "user":
            out.append(m)                   # duplicate message
    prod = Producer({"bootstrap.servers": env.kafka.bootstrap, "partitioner": "murmur2_random"})
    for m in out:
        prod.produce(m["topic"], key=m["key"], value=json.dumps(m["value"]).encode(),
                     headers=list(m["headers"].items()))
    assert prod.flush(30) == 0
    p, r = verify_tool(env, "--instance", env.instance, "--expect", "20", "--rows")
    assert p.returncode == 1, p.stderr + p.stdout
    assert r["result"] == "problems"
    assert r["posts_complete"] == 18  # 20 minus the partial and the missing
    assert r["posts_partial"] == 1
    assert r["posts_missing"] == 1
    assert r["duplicates"] == 1
    assert r["rows_mismatched"] == 1
    assert "Atlantis" not in p.stderr and "country" in p.stderr

    human = subprocess.run([VERIFY, "-c", str(env.config), "--instance", env.instance,
                            "--expect", "20"], capture_output=True, text=True, timeout=180)
    assert human.returncode == 1
    assert "seq 5 key" in human.stdout and "seq 7: missing" in human.stdout
    assert "RESULT: PROBLEMS FOUND" in human.stdout


def test_unreachable_broker_cannot_verify(env, tmp_path):
    p = subprocess.run([VERIFY, "-b", "127.0.0.1:1", "-p", env.prefix, "--timeout", "3"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
