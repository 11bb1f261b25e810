"""Delivery guarantees against the real broker: graceful stop, broker outage, and an
outage longer than the message timeout."""

import json
import os
import signal
import subprocess
import time

from conftest import PINPOSTD, verify


def wait_child(proc, timeout):
    """Wait for proc; return (status, cpu seconds) from its rusage."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru.ru_utime + ru.ru_stime
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("pinpostd did not finish in time")


def test_broker_killed_and_restarted_mid_run_loses_and_duplicates_nothing(env):
    env.load(2000)
    log = open(env.tmp / "stderr.log", "w+")
    report = env.tmp / "outage.json"
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--report", str(report),
                             "--count", "3000", "--rate", "200", "--seed", "21"],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        time.sleep(4)
        env.kafka.kill()
        time.sleep(5)
        env.kafka.start()
        status, _ = wait_child(proc, 300)
    finally:
        if proc.poll() is None:
            proc.kill()
        if env.kafka.proc is None:
            env.kafka.start()
    log.seek(0)
    err = log.read()
    assert status == 0, err[-3000:]
    assert "kafka" in err.lower() and ("down" in err.lower() or "refused" in err.lower())
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 3000 and rep["posts_failed"] == 0
    posts = verify(env, 3000)
    print(f"outage: sent 3000, verified {len(posts)}, lost 0, duplicated 0")


def test_broker_gone_longer_than_message_timeout_fails_posts_and_exits_1(env):
    env.load(500)
    env.write_config(extra_kafka="  flush_timeout: 30\n  settings:\n    message.timeout.ms: 4000\n")
    report = env.tmp / "long-outage.json"
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--report", str(report),
                             "--count", "400", "--rate", "40", "--seed", "5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        env.kafka.kill()
        start = time.monotonic()
        status, cpu = wait_child(proc, 120)
        wall = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
        env.kafka.start()
    err = proc.stderr.read()
    assert status == 1, err[-3000:]
    rep = json.loads(report.read_text())
    assert rep["posts_failed"] > 0
    assert rep["posts_delivered"] + rep["posts_failed"] == rep["posts_sampled"] == 400
    assert rep["posts_in_flight"] == 0
    assert "failed" in err
    # Waiting for a dead broker must not burn a core.
    assert cpu < 0.5 * wall, f"{cpu:.1f} s CPU in {wall:.1f} s"
    print(f"long outage: sent {rep['posts_sampled']}, delivered {rep['posts_delivered']}, "
          f"failed {rep['posts_failed']}")
