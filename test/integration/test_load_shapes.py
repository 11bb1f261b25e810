"""Load shapes against the real broker: stages and ramps, Poisson and diurnal arrivals,
open-model latency under a frozen broker, warm-up, fleet shards, popularity. Rates are
measured by an independent consumer from the messages' own timestamps (the producer's
CreateTime, set when pinpostd hands the message to librdkafka), never from pinpostd's
report alone; expected values come from the arithmetic of the schedule."""

import json
import math
import os
import signal
import subprocess
import time

import pytest

from conftest import PINPOSTD, PINPOST_VERIFY, StderrLog, consume_all, group_posts, verify
from test_service import freeze


def pin_timestamps(env):
    """{instance: {seq: create time in ms}} of the pin topic, read by a consumer of our own."""
    out = {}
    msgs = consume_all(env.kafka.bootstrap, {"pin": env.topics["pin"]}, timestamps=True)
    for _key, h, _value, _part, _off, (_kind, ms) in msgs["pin"]:
        out.setdefault(h["pinpostd.instance"], {})[int(h["pinpostd.seq"])] = ms
    return out


def window_counts(times_ms, t0_ms, edges_s):
    """How many times fall in each [edges[i], edges[i+1]) seconds after t0."""
    counts = [0] * (len(edges_s) - 1)
    for t in times_ms:
        x = (t - t0_ms) / 1000.0
        for i in range(len(counts)):
            if edges_s[i] <= x < edges_s[i + 1]:
                counts[i] += 1
                break
    return counts


def test_three_stages_reach_their_rates_within_two_percent(env):
    """100/s for 12 s, a ramp 100 -> 300/s over 10 s, 300/s for 5 s: 1200, 2000 and 1500
    posts (the ramp's area: (100 + 300) / 2 * 10). Counted by the consumer from the
    messages' timestamps in each stage's window less half a second at each end (so that a
    post slipping across a boundary on a busy machine does not count), every stage within
    2% of the rate's integral over that window; the run ends by itself at the end of the
    last stage, every post whole."""
    env.load(3000)
    p, rep = env.run("--stages", "100/s:12s, ramp 100-300/s:10s, 300/s:5s", "--seed", "3",
                     timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "the last stage of emulation.stages has ended" in p.stderr
    expected = [1200, 2000, 1500]
    times = pin_timestamps(env)[env.instance]
    assert len(times) == sum(expected) == rep["posts_delivered"]
    t0 = min(times.values())  # the first post is due at the schedule's start
    inner = [window_counts(times.values(), t0, [a, b])[0]
             for a, b in ((0.5, 11.5), (12.5, 21.5), (22.5, 26.5))]
    # 100/s over 11 s; the ramp 100 + 20 u posts/s over u in [0.5, 9.5]; 300/s over 4 s.
    want = [1100, 100 * 9 + 10 * (9.5 ** 2 - 0.5 ** 2), 1200]
    for got, w in zip(inner, want):
        assert abs(got - w) <= 0.02 * w, f"per-stage counts {inner}, expected {want}"
    # The report agrees: each stage's target is its mean rate, achieved within 2% of it.
    stages = rep["load"]["stages"]
    assert [s["stage"] for s in stages] == ["100/s:12s", "ramp 100-300/s:10s", "300/s:5s"]
    for s, rate, n in zip(stages, [100, 200, 300], expected):
        assert s["target_rate"] == pytest.approx(rate, rel=0.01), s
        assert s["achieved_rate"] == pytest.approx(rate, rel=0.02), s
        assert s["posts"] == n, s
        assert s["runs"] == 1 and s["arrivals_dropped"] == 0
    verify(env, sum(expected), check_rows=False)


def test_a_frozen_broker_shows_in_the_intended_time_percentiles_only(env):
    """200 posts/s for 16 s with a local queue of 10 posts (30 messages); the broker is
    frozen (SIGSTOP) for 3 s in the middle. The posts meant for those 3 s wait in pinpostd,
    not in the producer: latency from the produce call stays low at p99, while latency from
    the intended send time shows the stall (coordinated omission made visible)."""
    env.load(1000)
    env.write_config(extra_kafka="  settings:\n    queue.buffering.max.messages: 30\n")
    proc, report = env.popen("--stages", "200/s:16s", "--seed", "5")
    log = StderrLog(proc)
    try:
        assert log.wait_for(r"posts delivered [1-9]", 60), log.text()[-3000:]
        time.sleep(3)
        freeze(env.kafka.proc.pid, 3)
        assert proc.wait(timeout=120) == 0, log.text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    rep = json.loads(report.read_text())
    load = rep["load"]
    assert load["posts_delivered"] == 3200 and load["arrivals_dropped"] == 0, load
    intended, produce = load["latency_ms"]["intended"], load["latency_ms"]["produce"]
    assert intended["p99"] >= 2000, load["latency_ms"]
    assert intended["max"] >= 2500, load["latency_ms"]
    assert produce["p99"] <= 500, load["latency_ms"]
    st = load["stages"][0]
    assert st["latency_ms"]["intended"]["p99"] >= 2000 and st["latency_ms"]["produce"]["p99"] <= 500
    verify(env, 3200, check_rows=False)


def test_poisson_arrivals_vary_like_a_poisson_process_and_fixed_ones_do_not(env):
    """300 posts/s for 20 s. Counted per second by the consumer, Poisson arrivals have a
    variance close to their mean (index of dispersion 1; 19 degrees of freedom put it
    within [0.25, 2.5] with probability above 0.999); evenly spaced arrivals have almost
    none. Both send the rate's total within 2%."""
    env.load(1000)
    disp = {}
    for kind in ("fixed", "poisson"):
        env.instance = f"{env.instance.split('~')[0]}~{kind}"
        env.write_config()
        p, rep = env.run("--stages", "300/s:20s", "--arrivals", kind, "--seed", "11",
                         timeout=120)
        assert p.returncode == 0, p.stderr[-3000:]
        assert rep["load"]["arrivals"] == kind
        times = pin_timestamps(env)[env.instance]
        assert abs(len(times) - 6000) <= 310, len(times)  # 4 sigma of a Poisson count
        t0 = min(times.values())
        counts = window_counts(times.values(), t0, list(range(0, 21)))[:19]
        mean = sum(counts) / len(counts)
        var = sum((c - mean) ** 2 for c in counts) / (len(counts) - 1)
        disp[kind] = var / mean
    assert disp["fixed"] < 0.5, disp  # a descheduled moment moves a few posts across a window edge
    assert 0.25 <= disp["poisson"] <= 2.5, disp


def diurnal_rate(peak, trough, peak_at_s, tod_s):
    return trough + (peak - trough) * (1 + math.cos(2 * math.pi * (tod_s - peak_at_s) / 86400)) / 2


def test_a_compressed_day_follows_the_daily_curve(env):
    """A day compressed into 24 s (one hour a second), peak 300 posts/s at 12:00 UTC,
    trough 30 at midnight. The consumer's counts over 3-second windows match the integral
    of the curve (computed here from the documented formula and the first post's time of
    day) within 5%, the whole day within 2%."""
    env.load(1000)
    env.write_config(extra="emulation:\n  diurnal:\n    peak: 300\n    trough: 30\n"
                           "    peak_at: \"12:00\"\n    tz: UTC\n    day_length: 24s\n")
    p, rep = env.run("--duration", "40", "--seed", "2", timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    times = pin_timestamps(env)[env.instance]
    t0 = min(times.values())
    # Start of the schedule: the first post, due at its start (fixed arrivals).
    tod0 = (t0 / 1000.0) % 86400

    def expected(a, b, steps=3000):
        h = (b - a) / steps
        return sum(diurnal_rate(300, 30, 43200, (tod0 + (a + (i + 0.5) * h) * 3600) % 86400)
                   for i in range(steps)) * h

    edges = list(range(0, 25, 3))
    counts = window_counts(times.values(), t0, edges)
    want = [expected(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    for got, w in zip(counts, want):
        assert abs(got - w) <= 0.05 * w + 3, f"counts {counts}, expected {[round(x) for x in want]}"
    assert abs(sum(counts) - sum(want)) <= 0.02 * sum(want)


def test_warmup_posts_are_reported_apart(env):
    env.load(500)
    p, rep = env.run("--rate", "200", "--count", "400", "--warmup", "100 posts", "--seed", "1",
                     check_exit=0)
    load = rep["load"]
    assert load["warmup"]["posts"] == 100 and load["warmup"]["posts_delivered"] == 100
    assert load["posts"] == 300 and load["posts_delivered"] == 300
    assert load["latency_ms"]["produce"]["count"] == 300
    assert load["warmup"]["latency_ms"]["intended"]["count"] == 100
    assert rep["posts_delivered"] == 400  # the warm-up's posts are sent all the same
    # A time warm-up: the first second at 200/s.
    p, rep = env.run("--rate", "200", "--count", "400", "--warmup", "1s", "--seed", "1",
                     check_exit=0)
    assert abs(rep["load"]["warmup"]["posts"] - 200) <= 4, rep["load"]["warmup"]
    assert rep["load"]["posts"] + rep["load"]["warmup"]["posts"] == 400


def run_shards(env, n, *args, extra_env=None):
    procs = []
    for i in range(n):
        e = dict(os.environ, **(extra_env(i) if extra_env else {}))
        shard = [] if extra_env else ["--shard", f"{i}/{n}"]
        procs.append(env.popen_env(e, *shard, *args))
    reports = []
    for proc, report in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        reports.append(report)
    return reports


def test_three_shards_of_one_config_make_one_fleet(env):
    """--shard 0/3 .. 2/3 with one configuration: instances <instance>-0..2, a seed each,
    a third of the rate each; together the configured 150 posts/s for 8 s (1200 posts),
    verified as one fleet by pinpost-verify from the three reports."""
    env.load(2000)
    reports = run_shards(env, 3, "--stages", "150/s:8s", "--seed", "9")
    reps = [json.loads(r.read_text()) for r in reports]
    assert [r["instance"] for r in reps] == [f"{env.instance}-{i}" for i in range(3)]
    assert [r["shard"] for r in reps] == ["0/3", "1/3", "2/3"]
    assert len({r["seed"] for r in reps}) == 3
    for r in reps:
        assert r["load"]["stages"][0]["target_rate"] == pytest.approx(50, rel=0.01)
        assert abs(r["posts_delivered"] - 400) <= 2
    times = pin_timestamps(env)
    assert sum(len(times.get(r["instance"], {})) for r in reps) == \
        sum(r["posts_delivered"] for r in reps)
    assert abs(sum(r["posts_delivered"] for r in reps) - 1200) <= 6
    messages = env.consume()
    for r in reps:
        posts = group_posts(messages, r["instance"])
        assert sorted(posts) == list(range(1, r["posts_delivered"] + 1))
    cmd = [PINPOST_VERIFY, "-c", str(env.config), "--rows"]
    for r in reports:
        cmd += ["--run-report", str(r)]
    v = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert v.returncode == 0, v.stdout[-3000:] + v.stderr[-3000:]


def test_job_completion_index_picks_the_shard(env):
    """A Kubernetes Indexed Job: service.shards in the file, the index from
    JOB_COMPLETION_INDEX; the configured --count 301 is split 101/100/100."""
    env.load(500)
    env.write_config(extra="  shards: 3\n")
    reports = run_shards(env, 3, "--rate", "300", "--count", "301", "--seed", "4",
                         extra_env=lambda i: {"JOB_COMPLETION_INDEX": str(i)})
    reps = [json.loads(r.read_text()) for r in reports]
    assert [r["instance"] for r in reps] == [f"{env.instance}-{i}" for i in range(3)]
    assert [r["posts_delivered"] for r in reps] == [101, 100, 100]
    messages = env.consume()
    for r in reps:
        assert sorted(group_posts(messages, r["instance"])) == \
            list(range(1, r["posts_delivered"] + 1))


@pytest.mark.parametrize("text,why", [
    ("", "no stage"),
    ("100/s:10s,,50/s:1s", "item 2"),
    ("ramp 100-/s:5m", "item 1"),
    ("100/s", "item 1"),
    ("nan/s:1s", "item 1"),
    ("100/s:1e300s", "item 1"),
    ("repeat,100/s:1s", "repeat"),
])
def test_bad_stages_are_refused_with_the_item(env, text, why):
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--stages", text],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 64, p.stderr
    assert "--stages" in p.stderr and why in p.stderr, p.stderr
    env.write_config(extra=f"emulation:\n  stages: {json.dumps(text)}\n")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 78, p.stderr
    assert "pinpostd.yaml:" in p.stderr and "emulation.stages" in p.stderr, p.stderr


@pytest.mark.parametrize("args,extra,env_vars,why", [
    (["--shard", "3/3"], "", {}, "not I/N"),
    (["--shard", "-1/3"], "", {}, "not I/N"),
    (["--shard", "0/0"], "", {}, "not I/N"),
    ([], "  shards: 3\n", {}, "index is unknown"),
    ([], "  shards: 3\n", {"JOB_COMPLETION_INDEX": "3"}, "JOB_COMPLETION_INDEX"),
    ([], "  shards: 3\n", {"JOB_COMPLETION_INDEX": "1\n"}, "JOB_COMPLETION_INDEX"),
    ([], "emulation:\n  diurnal:\n    trough: 5\n", {}, "peak"),
    ([], "emulation:\n  diurnal:\n    peak: 5\n    trough: 50\n", {}, "above"),
    ([], "emulation:\n  diurnal:\n    peak: 5\n    tz: Europe/Paris\n", {}, "local"),
    ([], "emulation:\n  popularity: zipf(0)\n", {}, "Zipf exponent"),
    ([], "emulation:\n  warmup: 10 pots\n", {}, "posts"),
    ([], "emulation:\n  timestamp_columns: [geo.timestamp, geo.timestamp]\n", {}, "twice"),
    ([], "emulation:\n  timestamp_columns: [feed.timestamp]\n", {}, "pin, geo, user"),
])
def test_bad_load_settings_are_refused(env, args, extra, env_vars, why):
    env.write_config(extra=extra)
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "1", *args],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **env_vars))
    assert p.returncode in (64, 78), p.stderr
    assert why in p.stderr, p.stderr


def test_stage_and_target_in_the_summary_and_metrics_and_a_reload_changes_the_stages(env):
    env.load(500)
    metrics = env.tmp / "pinpostd.prom"
    env.write_config(extra=f"  metrics_file: {metrics}\n"
                           "emulation:\n  stages: \"20/s:2s, 40/s:forever\"\n")
    proc, report = env.popen("--seed", "1")
    log = StderrLog(proc)
    try:
        line = log.wait_for(r"stage 2/2 40/s:forever, target 40\.0/s", 30)
        assert line, log.text()[-3000:]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = metrics.read_text() if metrics.exists() else ""
            if 'stage="40/s:forever"} 1' in text:
                break
            time.sleep(0.5)
        assert 'pinpostd_stage{instance="%s",stage="40/s:forever"} 1' % env.instance in text, text
        assert f'pinpostd_target_rate{{instance="{env.instance}"}} 40' in text, text
        assert 'pinpostd_post_latency_seconds_count{instance="%s",from="intended"}' % \
            env.instance in text
        env.write_config(extra=f"  metrics_file: {metrics}\n"
                               "emulation:\n  stages: \"10/s:forever\"\n")
        proc.send_signal(signal.SIGHUP)
        assert log.wait_for(r"stage 1/1 10/s:forever, target 10\.0/s", 30), log.text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    stages = json.loads(report.read_text())["load"]["stages"]
    assert [(s["stage"], s["configuration"]) for s in stages] == \
        [("20/s:2s", 0), ("40/s:forever", 0), ("10/s:forever", 1)]
    assert stages[0]["posts"] == 40 and stages[0]["seconds"] == pytest.approx(2, abs=0.01)


def test_zipf_popularity_follows_the_ranks(env):
    """zipf(1.2) over the 1000 posts of the table: the most frequent keys' shares match the
    Zipf law's first ranks (1 / (r^1.2 * H)), far from the uniform 0.1%."""
    env.load(1000)
    n = env.sql("SELECT COUNT(*) FROM pinterest_data")[0][0]
    env.write_config(extra="emulation:\n  popularity: zipf(1.2)\n")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "20000",
                        "--seed", "8"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    counts = {}
    for line in p.stdout.splitlines():
        m = json.loads(line)
        if m["topic"].endswith(".pin"):
            counts[m["key"]] = counts.get(m["key"], 0) + 1
    h = sum(1 / r ** 1.2 for r in range(1, n + 1))
    top = sorted(counts.values(), reverse=True)[:5]
    for r, c in enumerate(top, start=1):
        want = 20000 / (r ** 1.2 * h)
        assert abs(c - want) <= 4 * math.sqrt(want) + 0.05 * want, (top, want)


def demo_report(tmp_path, config_text, *args):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(config_text)
    report = tmp_path / "demo-report.json"
    p = subprocess.run([PINPOSTD, "--demo", "-c", str(cfg), "--dry-run", "--report",
                        str(report), *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return p, json.loads(report.read_text()) if report.exists() else None


@pytest.mark.parametrize("order", ["repeat first", "stages first"])
def test_repeat_applies_whatever_the_order_of_the_keys(tmp_path, order):
    keys = ["  repeat: true\n", "  stages: \"50/s:200ms\"\n"]
    if order == "stages first":
        keys.reverse()
    p, rep = demo_report(tmp_path, "emulation:\n" + "".join(keys), "--duration", "1")
    assert p.returncode == 0, p.stderr[-2000:]
    st = rep["load"]["stages"]
    assert len(st) == 1 and st[0]["runs"] in (5, 6), st  # the 6th may just have begun
    assert abs(rep["posts_delivered"] - 50) <= 1


def test_a_stage_that_falls_behind_shows_an_achieved_rate_below_its_target(tmp_path):
    """10^7 posts/s for a second is more than one thread sends: the posts due then go out
    late, during the next stage; the first stage's achieved rate is what was sent while it
    ran, not what was meant for it."""
    p, rep = demo_report(tmp_path, "", "--stages", "10000000/s:1s,1/s:1s", "--seed", "2")
    assert p.returncode == 0, p.stderr[-2000:]
    first, second = rep["load"]["stages"]
    assert first["target_rate"] == pytest.approx(1e7, rel=0.01)
    assert first["achieved_rate"] < 0.5e7, first
    assert first["posts_sent"] < first["posts"], first
    assert second["posts_sent"] > second["posts"], second
    assert first["posts_sent"] + second["posts_sent"] == rep["load"]["posts"]


def test_count_smaller_than_the_shards_is_refused(tmp_path):
    p, _ = demo_report(tmp_path, "", "--count", "2", "--shard", "2/3")
    assert p.returncode == 78, p.stderr
    assert "fewer posts than the 3 shards" in p.stderr, p.stderr


def test_a_reload_may_not_change_the_rewritten_columns(tmp_path):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text("emulation:\n  stages: \"20/s:forever\"\n")
    report = tmp_path / "r.json"
    proc = subprocess.Popen([PINPOSTD, "--demo", "-c", str(cfg), "--dry-run", "--report",
                             str(report)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    log = StderrLog(proc)
    try:
        assert log.wait_for(r"keyspace:", 30), log.text()
        time.sleep(0.5)
        cfg.write_text("emulation:\n  stages: \"20/s:forever\"\n  timestamps: now\n")
        proc.send_signal(signal.SIGHUP)
        assert log.wait_for(r"takes a restart", 30), log.text()
        assert log.wait_for(r"reload failed: keeping the running configuration", 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(report.read_text())["timestamps"] == {"mode": "source", "columns": []}
