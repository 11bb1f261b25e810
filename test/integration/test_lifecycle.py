"""Lifecycle property test: pinpostd against the real servers while a seeded random
schedule reloads it (valid and refused configurations), freezes and kills MariaDB and
the broker, and stops it at a random moment, in idempotent and exactly_once delivery.
After each run an independent consumer reads the three topics back (read_committed) and
lifecycle_check.py compares them with the --report JSON and the exit status.

  LIFECYCLE_SEEDS=N          how many schedules (default 12: about 3-4 minutes on 2 cores)
  LIFECYCLE_SEED=S           replay one schedule
  LIFECYCLE_SEED_BASE=B      first seed of the N (default 1; "random": a fresh one)
  LIFECYCLE_SECONDS=T        length of each schedule (default 20)

Seed parity picks the mode: odd seeds run exactly_once, even ones idempotent."""

import json
import os
import random
import subprocess

import pytest

from conftest import PINPOSTD, consume_all
from lifecycle_check import KafkaView, check
from lifecycle_runner import LifecycleRun, config_text
from lifecycle_schedule import generate

SECONDS = float(os.environ.get("LIFECYCLE_SECONDS", "20"))
POSTS = 400  # rows in the database; posts are sampled from them with replacement


def seeds():
    if os.environ.get("LIFECYCLE_SEED"):
        return [int(os.environ["LIFECYCLE_SEED"])]
    n = int(os.environ.get("LIFECYCLE_SEEDS", "12"))
    base = os.environ.get("LIFECYCLE_SEED_BASE", "1")
    base = random.SystemRandom().randrange(1, 1 << 31) if base == "random" else int(base)
    return [base + i for i in range(n)]


def replay_command(seed):
    return (f"make test-integration PYTEST_ARGS=test/integration/test_lifecycle.py "
            f"LIFECYCLE_SEED={seed} LIFECYCLE_SECONDS={SECONDS:g}")


def reference_keys(env, mode, seed, count):
    """seq -> key as a dry run with the same seed gives on the same data: what a seeded
    run must produce however it was reloaded or interrupted."""
    if count == 0:
        return {}
    cfg = env.tmp / "reference.yaml"
    cfg.write_text(config_text(env, mode, {"rate": 0}))
    p = subprocess.run([PINPOSTD, "-c", str(cfg), "--dry-run", "--count", str(count),
                        "--seed", str(seed), "-q"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"reference dry run failed: {p.stderr[-2000:]}"
    keys = {}
    for line in p.stdout.splitlines():
        m = json.loads(line)
        if m["topic"] == env.topics["pin"]:
            keys[int(m["headers"]["pinpostd.seq"])] = m["key"]
    return keys


def failure_text(schedule, run, report, view, violations, log_text):
    hups = "\n".join(f"  t={h['t']:6.2f}s {h['config']:<16} -> {h['outcome'] or 'no outcome'}"
                     + (f" at t={h['outcome_t']:.2f}s" if h["outcome_t"] else "")
                     for h in run.hups) or "  none"
    done = "\n".join(f"  t={t:6.2f}s  {what}" for t, what in run.executed)
    lines = log_text.splitlines()
    # What pinpostd itself said about reloads, stopping and failures; librdkafka's own
    # lines (kafka FAC: ...) repeat these many times over.
    notable = [l for l in lines if " kafka " not in l and (
        "posts delivered" not in l or "finished" in l) and any(w in l for w in (
        "reload", "SIGHUP", "fatal", "stopping", "transaction", " failed", "finished",
        "stop requested", "source unavailable", "not ready", "waiting", "again"))]
    keys = ("posts_sampled", "posts_delivered", "posts_failed", "posts_unknown",
            "posts_in_flight", "messages_delivered")
    rep = {k: report.get(k) for k in keys} if report else None
    return "\n".join([
        f"LIFECYCLE SEED {schedule.seed} ({schedule.mode}): {len(violations)} invariant "
        "violation(s)",
        *[f"  - {x}" for x in violations],
        f"replay: {replay_command(schedule.seed)}",
        "schedule:", schedule.describe(),
        "executed:", done,
        "reloads:", hups,
        f"exit status {run.status}; report {rep}",
        f"kafka (read_committed): {view.summary() if view else 'not read'}",
        "pinpostd log, notable lines:", *notable[-40:],
        "pinpostd log, last lines:", *lines[-15:],
    ])


@pytest.mark.parametrize("seed", seeds())
def test_lifecycle_invariants_hold_under_a_random_schedule(env, seed):
    schedule = generate(seed, SECONDS)
    print(schedule.describe())
    env.load(POSTS)
    run = LifecycleRun(env, schedule)
    run.run()  # leaves both servers running and thawed, whatever happened
    report = json.loads(run.report.read_text()) if run.report.exists() else None
    view = KafkaView(consume_all(env.kafka.bootstrap, env.topics, committed=True), env.instance)
    ref = reference_keys(env, schedule.mode, seed, report["posts_sampled"] if report else 0)
    log_text = run.log_text()
    violations = check(schedule, run, report, view, ref, log_text)
    if violations and schedule.mode == "exactly_once":
        raw = KafkaView(consume_all(env.kafka.bootstrap, env.topics, committed=False),
                        env.instance)
        violations_note = (f"read_uncommitted sees {raw.summary()} (the difference is in "
                           "aborted or open transactions)")
    else:
        violations_note = ""
    print("executed:\n" + "\n".join(f"  t={t:6.2f}s  {what}" for t, what in run.executed))
    print(f"seed {seed} ({schedule.mode}): exit {run.status}, faults {sorted(run.faults)}, "
          f"{len(run.hups)} SIGHUP(s); report delivered {report and report['posts_delivered']}"
          f" failed {report and report['posts_failed']}; kafka {view.summary()}")
    assert not violations, failure_text(schedule, run, report, view, violations, log_text) + \
        ("\n" + violations_note if violations_note else "")
