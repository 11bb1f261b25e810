"""Live timestamps (emulation.timestamps: now) against the real broker and database, and
pinpost-verify's side of them (--rows leaves rewritten columns uncompared but checks their
form) and of fleets (several --run-report files, each instance verified whole and once).

The emission time is compared with the broker's own clock: topics created with
message.timestamp.type=LogAppendTime carry the time the broker appended each record, read
back by an independent consumer (confluent_kafka), never by pinpostd's code."""

import calendar
import json
import subprocess
import time
import uuid
from datetime import datetime

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import (PINPOST_VERIFY, PINPOSTD, assert_value_matches, consume_all, db_rows,
                      group_posts, led_metadata)

EXIT_PROBLEMS = 1
EXIT_USAGE = 64
EXIT_CONFIG = 78


def log_append_topics(env):
    """Point env at three fresh topics stamped by the broker (LogAppendTime)."""
    env.prefix = f"la{uuid.uuid4().hex[:10]}"
    env.topics = {t: f"{env.prefix}.{t}" for t in ("pin", "geo", "user")}
    admin = AdminClient({"bootstrap.servers": env.kafka.bootstrap, "log_level": 0})
    futures = admin.create_topics([
        NewTopic(n, 3, 1, config={"message.timestamp.type": "LogAppendTime"})
        for n in env.topics.values()])
    for f in futures.values():
        f.result(30)
    # Leaders elected before the run: the first appends would otherwise wait for them.
    c = Consumer({"bootstrap.servers": env.kafka.bootstrap, "group.id": "md", "log_level": 0})
    try:
        led_metadata(c, env.topics.values())
    finally:
        c.close()


def write_config(env, emulation=""):
    env.write_config(extra=("emulation:\n" + emulation) if emulation else "")


def consume_timed(env):
    """Every message of env's topics with the broker's timestamp: {table: [(headers,
    value, timestamp type, timestamp ms)]}."""
    got = consume_all(env.kafka.bootstrap, env.topics, timestamps=True)
    return {t: [(h, v, ts[0], ts[1]) for _k, h, v, _p, _o, ts in msgs] for t, msgs in got.items()}


def utc_us(text):
    """Microseconds since the epoch of "YYYY-MM-DD HH:MM:SS[.ffffff]" read as UTC."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    d = datetime.strptime(text, fmt)
    return calendar.timegm(d.timetuple()) * 1000000 + d.microsecond


def verify_json(env, *args, timeout=180):
    p = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--json", "--timeout", "30",
                        *args], capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    return p, (json.loads(lines[-1]) if lines else None)


def newest_report(env):
    return str(sorted(env.tmp.glob("report-*.json"), key=lambda f: f.stat().st_mtime)[-1])


# ---- pinpostd: the emission time in the live columns ----

def test_live_timestamps_within_a_second_of_the_brokers_append_time(env):
    log_append_topics(env)
    env.load(300)
    # Microsecond columns, so the comparison is not blurred by whole seconds; one of them a
    # TIMESTAMP; some rows NULL: every live value is rewritten whatever the row holds.
    env.sql("ALTER TABLE geolocation_data MODIFY `timestamp` DATETIME(6) NULL")
    env.sql("ALTER TABLE user_data MODIFY date_joined TIMESTAMP(6) NULL DEFAULT NULL")
    env.sql("UPDATE geolocation_data SET `timestamp` = NULL WHERE ind % 7 = 0")
    null_keys = {r[0] for r in env.sql("SELECT ind FROM geolocation_data WHERE `timestamp` "
                                       "IS NULL")}
    assert null_keys
    write_config(env, "  timestamps: now\n"
                      "  timestamp_columns: [geo.timestamp, user.date_joined]\n")
    started = time.time()
    _, rep = env.run("--count", "600", "--rate", "300", "--seed", "3", check_exit=0)
    ended = time.time()
    assert rep["timestamps"] == {"mode": "now", "columns": ["geo.timestamp", "user.date_joined"]}

    msgs = consume_timed(env)
    by_seq = {}
    for table in ("geo", "user"):
        for headers, value, kind, ms in msgs[table]:
            assert kind == 2, "not a LogAppendTime topic"  # TIMESTAMP_LOG_APPEND_TIME
            by_seq.setdefault(int(headers["pinpostd.seq"]), {})[table] = (value, ms)
    assert sorted(by_seq) == list(range(1, 601))
    worst = 0
    stamped_nulls = 0
    for seq, p in by_seq.items():
        geo, append_ms = p["geo"]
        stamp = utc_us(geo["timestamp"])
        # Emitted before the broker appended it, and less than a second before.
        lag = append_ms * 1000 - stamp
        assert -1000 < lag < 1000000, f"post {seq}: {geo['timestamp']} vs append {append_ms} ms"
        assert started * 1e6 - 1e6 < stamp < ended * 1e6 + 1e6
        worst = max(worst, lag)
        # One instant for the whole post.
        assert p["user"][0]["date_joined"] == geo["timestamp"]
        stamped_nulls += geo["ind"] in null_keys
    assert stamped_nulls > 0
    print(f"largest append-minus-emission lag: {worst / 1000:.1f} ms")
    # 600 posts at 300/s: the stamps move with time, they are not one value.
    assert len({p["geo"][0]["timestamp"] for p in by_seq.values()}) > 100

    # Everything else is the database row.
    posts = group_posts(consume_all(env.kafka.bootstrap, env.topics), env.instance)
    rows = db_rows(env, [int(p["pin"][0]) for p in posts.values()])
    for p in posts.values():
        key = int(p["pin"][0])
        for table in ("pin", "geo", "user"):
            names, row = rows[table][key]
            value = dict(p[table][1])
            live = {"geo": "timestamp", "user": "date_joined"}.get(table)
            if live:
                i = names.index(live)
                row = tuple(v for j, v in enumerate(row) if j != i)
                names = [n for n in names if n != live]
                value.pop(live)
            assert_value_matches(table, value, names, row)


def test_whole_second_column_is_truncated_and_off_leaves_the_rows(env):
    log_append_topics(env)
    env.load(200)
    write_config(env, "  timestamps: now\n")  # the default column: geo.timestamp
    _, rep = env.run("--count", "300", "--rate", "200", check_exit=0)
    assert rep["timestamps"] == {"mode": "now", "columns": ["geo.timestamp"]}
    msgs = consume_timed(env)
    assert len(msgs["geo"]) == 300
    for headers, value, kind, ms in msgs["geo"]:
        # DATETIME keeps whole seconds: the emission time truncated, no fraction written.
        assert len(value["timestamp"]) == 19, value["timestamp"]
        stamp_s = utc_us(value["timestamp"]) // 1000000
        assert 0 <= ms // 1000 - stamp_s <= 1, f"{value['timestamp']} vs append {ms} ms"

    # Off (the default): the database's values, in a fresh set of topics.
    log_append_topics(env)
    write_config(env)
    _, rep = env.run("--count", "100", "--rate", "0", check_exit=0)
    assert rep["timestamps"]["mode"] == "source"
    from conftest import verify
    verify(env, 100)  # every value equal to its row, timestamp included


def test_timestamps_given_on_rows_that_are_null(env):
    """NULL in the database: still stamped, with the default column."""
    env.load(100)
    env.sql("UPDATE geolocation_data SET `timestamp` = NULL")
    write_config(env, "  timestamps: now\n")
    dry = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "50"],
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr[-3000:]
    now_us = time.time() * 1e6
    geo = [json.loads(line)["value"] for line in dry.stdout.splitlines()
           if json.loads(line)["topic"].endswith(".geo")]
    assert len(geo) == 50
    for v in geo:
        assert v["timestamp"] is not None
        assert abs(utc_us(v["timestamp"]) - now_us) < 60e6


@pytest.mark.parametrize("column,words", [
    ("geo.country", ["emulation.timestamp_columns: geo.country",
                     "column 'country' of table 'geolocation_data' is VARCHAR",
                     "not DATETIME or TIMESTAMP"]),
    ("pin.downloaded", ["emulation.timestamp_columns: pin.downloaded", "is INT,"]),
    ("user.nothere", ["emulation.timestamp_columns: user.nothere",
                      "table 'user_data' has no column 'nothere'"]),
])
def test_a_live_column_that_is_not_a_datetime_is_a_configuration_error(env, column, words):
    env.load(20)
    write_config(env, f"  timestamps: now\n  timestamp_columns: [{column}]\n")
    for args in (["--count", "5", "--rate", "0"], ["--check"]):
        p = subprocess.run([PINPOSTD, "-c", str(env.config), *args], capture_output=True,
                           text=True, timeout=120)
        out = p.stdout + p.stderr  # --check prints its items on standard output
        assert p.returncode == EXIT_CONFIG, f"{args}: exit {p.returncode}\n{out[-3000:]}"
        for w in words:
            assert w in out, f"{args}: {w!r} not in\n{out[-3000:]}"
    # Off, the same list is not looked at.
    write_config(env, f"  timestamps: source\n  timestamp_columns: [{column}]\n")
    env.run("--count", "5", "--rate", "0", check_exit=0)


def test_the_demo_source_stamps_too():
    import os
    import tempfile
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "pinpostd.yaml")
    with open(cfg, "w") as f:
        f.write("emulation:\n  timestamps: now\n"
                "  timestamp_columns: [geo.timestamp, user.date_joined]\n")
    before = int(time.time())
    p = subprocess.run([PINPOSTD, "-c", cfg, "--demo", "--dry-run", "--count", "40",
                        "--rate", "100"], capture_output=True, text=True, timeout=60)
    after = int(time.time())
    assert p.returncode == 0, p.stderr[-3000:]
    posts = {}
    for line in p.stdout.splitlines():
        m = json.loads(line)
        posts.setdefault(m["headers"]["pinpostd.seq"], {})[m["topic"].rsplit(".", 1)[1]] = \
            m["value"]
    assert len(posts) == 40
    for post in posts.values():
        ts = post["geo"]["timestamp"]
        assert before <= utc_us(ts) // 1000000 <= after, ts
        assert post["user"]["date_joined"] == ts

    # A column the demo data lacks, or one of another type, is refused as for MySQL.
    with open(cfg, "w") as f:
        f.write("emulation:\n  timestamps: now\n  timestamp_columns: geo.country\n")
    p = subprocess.run([PINPOSTD, "-c", cfg, "--demo", "--dry-run", "--count", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == EXIT_CONFIG, p.stderr[-3000:]
    assert "emulation.timestamp_columns: geo.country" in p.stderr
    assert "VARCHAR(64), not DATETIME or TIMESTAMP" in p.stderr


# ---- pinpost-verify --rows with live columns ----

def test_verify_rows_leaves_live_columns_uncompared_and_checks_the_rest(env):
    env.load(300)
    write_config(env, "  timestamps: now\n")
    env.run("--count", "250", "--rate", "0", "--seed", "5", check_exit=0)
    report = newest_report(env)

    # The report names the rewritten columns.
    p, r = verify_json(env, "--run-report", report, "--rows")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert r["result"] == "verified" and r["posts_complete"] == 250
    assert r["rows_checked"] == 750 and r["rows_mismatched"] == 0
    assert r["live_columns"] == ["geo.timestamp"]

    # Without the report the stamps differ from the rows: found, then named by hand.
    by_hand = ["--instance", env.instance, "--expect", "250", "--rows"]
    p, r = verify_json(env, *by_hand)
    assert p.returncode == EXIT_PROBLEMS, p.stderr[-3000:]
    assert r["rows_mismatched"] > 0
    assert "timestamp: expected" in p.stderr
    p, r = verify_json(env, *by_hand, "--live-columns", "geo.timestamp")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert r["rows_mismatched"] == 0

    # Tampered posts of another instance, written by hand: a changed non-live column and
    # a malformed live value are found; a well-formed live value that is not the row's is
    # not.
    dry = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "4",
                          "--seed", "9"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr[-3000:]
    tampered = env.instance + "-t"
    prod = Producer({"bootstrap.servers": env.kafka.bootstrap})
    for line in dry.stdout.splitlines():
        m = json.loads(line)
        seq = int(m["headers"]["pinpostd.seq"])
        table = m["topic"].rsplit(".", 1)[1]
        v = m["value"]
        if table == "geo" and seq == 1:
            v["country"] = "Atlantis"                      # not its row: found
        if table == "geo" and seq == 2:
            v["timestamp"] = "2031-02-30 07:08:09"          # no such day: found
        if table == "geo" and seq == 3:
            v["timestamp"] = "2031-05-06 07:08:09.250000"   # a fraction in a DATETIME: found
        if table == "geo" and seq == 4:
            v["timestamp"] = "1999-12-31 23:59:59"          # well-formed: fine
        m["headers"]["pinpostd.instance"] = tampered
        prod.produce(m["topic"], key=m["key"], value=json.dumps(v).encode(),
                     headers=list(m["headers"].items()))
    assert prod.flush(30) == 0
    p, r = verify_json(env, "--instance", tampered, "--expect", "4", "--rows",
                       "--live-columns", "geo.timestamp")
    assert p.returncode == EXIT_PROBLEMS, p.stderr[-3000:]
    assert r["posts_complete"] == 4 and r["rows_checked"] == 12
    assert r["rows_mismatched"] == 3
    assert "seq 1 key" in p.stderr and "country" in p.stderr and "Atlantis" not in p.stderr
    assert p.stderr.count("timestamp: a live timestamp, but not a DATETIME") == 2


def test_verify_live_columns_option_is_checked(env):
    env.load(20)
    env.run("--count", "5", "--rate", "0", check_exit=0)
    # Not TABLE.COLUMN, or without --rows: a usage error.
    for args in (["--rows", "--live-columns", "timestamp"],
                 ["--rows", "--live-columns", "geo.timestamp,,user.date_joined"],
                 ["--rows", "--live-columns", "geolocation.timestamp"],
                 ["--live-columns", "geo.timestamp"]):
        p, _ = verify_json(env, *args)
        assert p.returncode == EXIT_USAGE, f"{args}: {p.stderr[-2000:]}"
        assert "--live-columns" in p.stderr
    # Not a column of the table, or not a DATETIME: the database says no (78).
    for col, words in (("geo.nothere", "table 'geolocation_data' has no column 'nothere'"),
                       ("geo.country", "column 'country' of table 'geolocation_data' is not "
                                       "DATETIME or TIMESTAMP")):
        p, _ = verify_json(env, "--rows", "--live-columns", col)
        assert p.returncode == EXIT_CONFIG, p.stderr[-2000:]
        assert words in p.stderr and "--live-columns" in p.stderr


@pytest.mark.parametrize("timestamps,field", [
    ('{"mode":"later"}', "timestamps"),
    ('"now"', "timestamps"),
    ('{"mode":"now"}', "timestamps.columns"),
    ('{"mode":"now","columns":[]}', "timestamps.columns"),
    ('{"mode":"now","columns":["geolocation.timestamp"]}', "timestamps.columns"),
    ('{"mode":"now","columns":[7]}', "timestamps.columns"),
])
def test_run_report_timestamps_hostile_values_are_refused(tmp_path, timestamps, field):
    path = tmp_path / "rr.json"
    path.write_text(f'{{"instance":"x","posts_delivered":1,"started_at_ms":0,'
                    f'"timestamps":{timestamps}}}')
    p = subprocess.run([PINPOST_VERIFY, "-b", "127.0.0.1:1", "--timeout", "3",
                        "--run-report", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == EXIT_CONFIG, p.stderr[-3000:]
    assert f"{path}: {field}:" in p.stderr, p.stderr


# ---- fleets: several run reports ----

def fleet_runs(env, counts):
    """One pinpostd run per count, each its own instance (<instance>-<i>) into the same
    topics; the paths of their reports."""
    reports = []
    base = env.instance
    for i, count in enumerate(counts):
        env.instance = f"{base}-{i}"
        env.write_config()
        _, rep = env.run("--count", str(count), "--rate", "0", "--seed", str(10 + i),
                         check_exit=0)
        assert rep["instance"] == env.instance and rep["posts_delivered"] == count
        reports.append(newest_report(env))
    env.instance = base
    env.write_config()
    return reports


def test_fleet_of_three_verified_each_whole_and_once(env):
    env.load(400)
    # An earlier run in the same topics, and a stranger: outside the fleet, not counted.
    env.run("--count", "30", "--rate", "0", check_exit=0)
    time.sleep(1.1)  # the fleet's reports start later: --since leaves that run out
    counts = [120, 75, 200]
    reports = fleet_runs(env, counts)
    args = [a for r in reports for a in ("--run-report", r)]
    p, r = verify_json(env, *args, "--rows")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert r["result"] == "verified"
    assert r["posts_complete"] == sum(counts) == r["posts_expected"]
    assert r["rows_checked"] == 3 * sum(counts) and r["rows_mismatched"] == 0
    assert r["instances_failed"] == 0
    assert [(m["instance"], m["expected"], m["posts_complete"], m["result"])
            for m in r["fleet"]] == [(f"{env.instance}-{i}", c, c, "verified")
                                     for i, c in enumerate(counts)]
    assert r["messages_other"] == 0  # the earlier run is before the earliest start

    # Two of the three: the third's messages are other, not a problem.
    p, r = verify_json(env, *args[:4])
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert r["posts_complete"] == 195 and r["messages_other"] == 3 * 200

    # The human summary names each instance and its verdict.
    h = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--timeout", "30", *args],
                       capture_output=True, text=True, timeout=180)
    assert h.returncode == 0, h.stdout + h.stderr[-3000:]
    for i, c in enumerate(counts):
        assert f"  {env.instance}-{i} ({reports[i]}): verified, expected {c}: posts complete: " \
               f"{c}," in h.stdout
    assert "RESULT: VERIFIED" in h.stdout


def test_fleet_fails_when_one_instance_fails(env):
    env.load(200)
    counts = [40, 50]
    reports = fleet_runs(env, counts)
    # Instance 1 owes one more post than it sent: its report says 51.
    rep = json.loads(open(reports[1]).read())
    rep["posts_delivered"] = 51
    bad_report = env.tmp / "bad-report.json"
    bad_report.write_text(json.dumps(rep))
    args = ["--run-report", reports[0], "--run-report", str(bad_report)]
    p, r = verify_json(env, *args)
    assert p.returncode == EXIT_PROBLEMS, p.stdout + p.stderr[-3000:]
    assert r["result"] == "problems" and r["instances_failed"] == 1
    assert [m["result"] for m in r["fleet"]] == ["verified", "problems"]
    assert r["fleet"][1]["posts_missing"] == 1 and r["posts_missing"] == 1
    h = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--timeout", "30", *args],
                       capture_output=True, text=True, timeout=180)
    assert h.returncode == EXIT_PROBLEMS
    assert f"{env.instance}-1 seq 51: missing" in h.stdout
    assert f"{env.instance}-0 seq" not in h.stdout

    # A duplicated message in instance 0 fails it, and the fleet.
    posts = group_posts(consume_all(env.kafka.bootstrap, env.topics), f"{env.instance}-0")
    key, value, _ = posts[7]["user"]
    prod = Producer({"bootstrap.servers": env.kafka.bootstrap})
    prod.produce(env.topics["user"], key=key, value=json.dumps(value).encode(),
                 headers=[("pinpostd.instance", f"{env.instance}-0"), ("pinpostd.seq", "7")])
    assert prod.flush(30) == 0
    p, r = verify_json(env, "--run-report", reports[0], "--run-report", reports[1])
    assert p.returncode == EXIT_PROBLEMS
    assert [m["result"] for m in r["fleet"]] == ["problems", "verified"]
    assert r["duplicates"] == 1


def test_fleet_options_that_do_not_fit_are_refused(env):
    env.load(50)
    reports = fleet_runs(env, [5, 5])
    args = ["--run-report", reports[0], "--run-report", reports[1]]
    for extra in (["--instance", env.instance], ["--expect", "10"]):
        p, _ = verify_json(env, *args, *extra)
        assert p.returncode == EXIT_USAGE, p.stderr[-2000:]
        assert "several --run-report" in p.stderr
    # The same instance twice: each run's report once.
    p, _ = verify_json(env, "--run-report", reports[0], "--run-report", reports[0])
    assert p.returncode == EXIT_CONFIG, p.stderr[-2000:]
    assert "both report instance" in p.stderr
