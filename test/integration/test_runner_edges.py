"""The daemon's life at its edges: data that never matches, reloads while waiting and
under load (exactly-once included), a second stop signal, what --count counts, and the
sequence a seed gives across reloads."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import PINPOSTD, PINPOST_VERIFY, StderrLog, consume_all, group_posts, verify
from servers import wait_until


def orphan_everything(env):
    """Keys 1, 2, 3 in the post table; geo rows for 1 and 2, a user row for 3: no post is
    ever whole."""
    env.load(3)
    env.sql("DELETE FROM geolocation_data WHERE ind = 3")
    env.sql("DELETE FROM user_data WHERE ind IN (1, 2)")


def stmt_executions(env):
    rows = env.sql("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")
    return int(rows[0][1])


def test_data_that_never_matches_honours_stop_limits_and_backs_off(env):
    orphan_everything(env)
    log = open(env.tmp / "orphans.log", "w+")
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "5"],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        # A warning says what share is unmatched and which tables lack the rows.
        wait_until("the unmatched warning", lambda: "had no complete post" in
                   open(log.name).read(), 30, proc=proc)
        text = open(log.name).read()
        assert "100.0% of the" in text, text[-2000:]
        assert "geolocation_data lacks" in text and "user_data lacks" in text
        assert "pinterest_data lacks" not in text
        # Sampling backs off: a few statements a second, not thousands.
        time.sleep(3)  # past the first 1000 fruitless keys and the pause ramp
        before = stmt_executions(env)
        time.sleep(3)
        rate = (stmt_executions(env) - before) / 3
        assert rate < 30, f"{rate:.0f} statements/s against data that never matches"
        # SIGTERM is honoured although no post was ever produced.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_duration_ends_a_run_on_data_that_never_matches(env):
    orphan_everything(env)
    t0 = time.monotonic()
    p, rep = env.run("--dry-run", "--count", "5", "--duration", "2", timeout=60)
    assert time.monotonic() - t0 < 30
    assert p.returncode == 0, p.stderr[-2000:]
    assert rep["posts_delivered"] == 0 and rep["posts_unmatched"] > 0


def test_check_reports_the_matched_share(env):
    orphan_everything(env)
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 78, p.stdout + p.stderr
    assert "source: 0 of " in p.stdout and "sampled keys (0.0%) have all three rows" in p.stdout
    assert "geolocation_data lacks" in p.stdout and "user_data lacks" in p.stdout
    assert "check: FAILED" in p.stdout
    # Half the posts whole: reported, and fine.
    env.load(400, "--missing-geo", "0.5")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    line = next(l for l in p.stdout.splitlines() if "have all three rows" in l)
    share = float(line.split("(")[1].split("%")[0])
    assert 35 < share < 65, line


def test_empty_post_table_is_a_configuration_error(env):
    env.load(5)
    env.sql("DELETE FROM pinterest_data")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 78, p.stdout + p.stderr
    assert "holds no row with a key in index: there is nothing to sample" in p.stdout
    p, _ = env.run("--count", "1", timeout=120)
    assert p.returncode == 78, p.stderr[-2000:]
    assert "the post table pinterest_data holds no row with a key in index" in p.stderr


def test_sighup_while_waiting_for_the_database_applies_the_fixed_config(env):
    env.load(50)
    good = env.creds.read_text()
    env.creds.write_text(good.replace(f"RDS_PORT: {env.db.port}", "RDS_PORT: 1"))
    proc, report = env.popen("--count", "20", "--rate", "0")
    log = StderrLog(proc)
    try:
        assert log.wait_for("source unavailable", 60), log.text()[-3000:]
        env.creds.write_text(good)
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.thread.join(10)
    assert proc.returncode == 0, log.text()[-3000:]
    assert "reloading the configuration (still starting: nothing in flight)" in log.text()
    assert "configuration reloaded" in log.text()
    verify(env, 20)


def test_exactly_once_reloads_under_load_lose_and_duplicate_nothing(env):
    env.load(2000)
    txid = f"pp-reload-{env.instance}"
    eo = f"  delivery: exactly_once\n  transactional_id: {txid}\n  transaction_interval: 0.2\n"
    env.write_config(extra_kafka=eo)
    proc, report = env.popen("--count", "3000", "--rate", "500")
    log = StderrLog(proc)
    try:
        # Reload only while posts are flowing, each after the previous one finished.
        assert log.wait_for(r"posts delivered [1-9]", 120), log.text()[-3000:]
        for i in range(3):
            proc.send_signal(signal.SIGHUP)
            assert wait_for_count(log, "configuration reloaded", i + 1, 60), log.text()[-3000:]
            time.sleep(0.5)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.thread.join(10)
    err = log.text()
    assert proc.returncode == 0, err[-4000:]
    assert err.count("configuration reloaded") == 3 and "still starting" not in err, err[-4000:]
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 3000 and rep["posts_failed"] == 0, rep
    # read_committed: every post once, whole; the report's message count is what Kafka holds.
    posts = verify(env, 3000, check_rows=False)
    assert rep["messages_delivered"] == 3 * len(posts)
    v = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--timeout", "30",
                        "--run-report", str(report)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr


def wait_for_count(log, text, n, timeout):
    """True once text appeared n times in the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.text().count(text) >= n:
            return True
        time.sleep(0.1)
    return False


def dry_run_keys(env, *args, hups=0):
    """{seq: key} of a dry run, optionally with SIGHUPs (no-op reloads) while it runs.
    Lines go to a file: a pipe nobody reads yet would block the run, and merge the HUPs."""
    lines = env.tmp / f"dry-{hups}.jsonl"
    with open(lines, "wb") as sink:
        proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--dry-run", "--seed", "7",
                                 *args], stdout=sink, stderr=subprocess.PIPE, text=True)
    log = StderrLog(proc)
    try:
        for i in range(hups):
            # Each reload while posts flow (some lines out), after the previous one.
            deadline = time.monotonic() + 60
            while lines.stat().st_size < (i + 1) * 50000 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGHUP)
            assert wait_for_count(log, "configuration reloaded", i + 1, 60), log.text()[-3000:]
        proc.wait(timeout=120)
        out = lines.read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.thread.join(10)
    err = log.text()
    assert proc.returncode == 0, err[-3000:]
    if hups:
        assert err.count("configuration reloaded") == hups and "still starting" not in err, \
            err[-3000:]
    keys = {}
    for line in out.decode().splitlines():
        m = json.loads(line)
        keys[int(m["headers"]["pinpostd.seq"])] = int(m["key"])
    return keys


def test_reloads_keep_the_sequence_a_seed_gives(env):
    env.load(5000)
    plain = dry_run_keys(env, "--count", "1500", "--rate", "0")
    reloaded = dry_run_keys(env, "--count", "1500", "--rate", "300", hups=3)
    assert len(plain) == len(reloaded) == 1500
    diff = [s for s in plain if plain[s] != reloaded[s]]
    assert not diff, f"first differing seq {diff[0]}: {plain[diff[0]]} vs {reloaded[diff[0]]}"


def test_count_counts_posts_sent_not_posts_skipped(env):
    env.load(30)
    # Two thirds of the posts are over the sink's limit and skipped.
    env.sql("UPDATE pinterest_data SET description = REPEAT('x', 60000) WHERE `index` % 3 <> 0")
    env.write_config(extra_kafka="  settings:\n    message.max.bytes: 50000\n")
    p, rep = env.run("--count", "30", "--rate", "0", "--seed", "3", check_exit=0)
    assert rep["posts_delivered"] == 30 and rep["posts_skipped"] > 0, rep
    posts = verify(env, 30, check_rows=False)
    assert all(int(p["pin"][0]) % 3 == 0 for p in posts.values())


@pytest.mark.parametrize("mode", ["idempotent", "exactly_once"])
def test_second_sigterm_during_a_broker_outage_stops_promptly(env, mode):
    env.load(200)
    eo = f"  delivery: exactly_once\n  transactional_id: pp-2nd-{env.instance}\n"
    env.write_config(flush_timeout=600, extra_kafka=eo if mode == "exactly_once" else "")
    # exactly_once: the main loop must not sit in a commit that the frozen broker never
    # answers (it blocked for minutes, starving the watchdog and both signals).
    proc, report = env.popen("--rate", "200")
    log = StderrLog(proc)
    broker = env.kafka.proc.pid
    try:
        assert log.wait_for(r"posts delivered [1-9]", 120), log.text()[-3000:]
        os.kill(broker, signal.SIGSTOP)
        time.sleep(1)  # posts pile up unacknowledged
        proc.send_signal(signal.SIGTERM)
        assert log.wait_for("stop requested", 30), log.text()[-3000:]
        time.sleep(1)
        assert proc.poll() is None, "stopped without waiting for the frozen broker"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        waited = time.monotonic() - t0
    finally:
        os.kill(broker, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.thread.join(10)
    err = log.text()
    assert waited < 15, f"took {waited:.1f} s after the second SIGTERM"
    assert "second stop signal: giving up on the" in err, err[-3000:]
    assert proc.returncode == 1
    rep = json.loads(report.read_text())
    assert rep["posts_failed"] + rep.get("posts_unknown", 0) > 0, rep
    assert rep["posts_sampled"] == (rep["posts_delivered"] + rep["posts_failed"] +
                                    rep.get("posts_unknown", 0) + rep["posts_skipped"]), rep
    # Everything counted delivered is in Kafka whole (read_committed), and nothing beyond
    # what the report calls delivered or unknown.
    posts = group_posts(consume_all(env.kafka.bootstrap, env.topics), env.instance)
    whole = {s for s, p in posts.items() if len(p) == 3}
    assert rep["posts_delivered"] <= len(whole) <= rep["posts_delivered"] + rep["posts_unknown"]


def test_reload_during_a_broker_outage_is_postponed_and_loses_nothing(env):
    env.load(200)
    env.write_config(flush_timeout=3)
    proc, report = env.popen("--rate", "50")
    log = StderrLog(proc)
    broker = env.kafka.proc.pid
    frozen = False
    try:
        assert log.wait_for(r"posts delivered [1-9]", 120), log.text()[-3000:]
        os.kill(broker, signal.SIGSTOP)
        frozen = True
        time.sleep(1)
        proc.send_signal(signal.SIGHUP)
        assert log.wait_for("reload postponed", 30), log.text()[-3000:]
        os.kill(broker, signal.SIGCONT)
        frozen = False
        assert log.wait_for("configuration reloaded", 60), log.text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if frozen:
            os.kill(broker, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.thread.join(10)
    err = log.text()
    assert proc.returncode == 0, err[-3000:]
    assert "counting them as failed" not in err, err[-3000:]
    rep = json.loads(report.read_text())
    assert rep["posts_failed"] == 0 and rep["posts_unknown"] == 0, rep
    verify(env, rep["posts_delivered"], check_rows=False)
