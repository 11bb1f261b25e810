"""pinpostd's shipped units (as installed by the .deb) under systemd as PID 1: start and
READY, reload, watchdog and restarts, stop and the report, credentials, template instances,
the journal's structured records, start-up on a big table."""

import re
import time

import pytest

from conftest import (BROKER_CHATTER, CRED_WARNING, MID, Forwarder, Setup, msg_field,
                      wait_for)

UNIT = "pinpostd.service"


def assert_clean_journal(box, unit=UNIT):
    """No broker start-up chatter at notice or above, and no false warning about the
    credentials systemd handed over."""
    loud = box.journal_text("-u", unit, "-p", "notice")
    for line in BROKER_CHATTER:
        assert line not in loud, f"broker chatter at notice or above in the journal:\n{loud[-3000:]}"
    every = box.journal_text("-u", unit)
    assert CRED_WARNING not in every, f"false credentials warning:\n{every[-3000:]}"


def pinpostd_records(box, unit=UNIT, *match):
    return [r for r in box.journal("-u", unit, *match) if r.get("SYSLOG_IDENTIFIER") == "pinpostd"]


# ---- 1. READY only when both ends are reachable; STATUS; posts verify ----

def test_start_ready_only_when_reachable(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    host, port = kafka.bootstrap.split(":")
    fwd = Forwarder(host, int(port))
    try:
        s.write_props(bootstrap=f"127.0.0.1:{fwd.port}")  # nothing listens there yet
        box.systemctl("start", "--no-block", UNIT)
        seen = []

        def probe():
            d = box.show(UNIT, "ActiveState", "StatusText")
            assert d["ActiveState"] == "activating", (d, seen)  # READY needs the broker
            seen.append(d["StatusText"])
            return d
        # STATUS says what the start-up waits for (the periodic counters line may take
        # turns with it: sample until seen). Asserted at the end, after the rest was shown.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("waiting for Kafka" in x for x in seen):
            probe()
            time.sleep(0.2)
        assert len(seen) > 3 and "Kafka DOWN" in seen[-1] or "waiting for Kafka" in seen[-1], seen
        fwd.open()
        box.wait_state(UNIT, "active", timeout=90)
        s.wait_delivered(40)
        status = s.status()
        assert re.match(r"delivered \d+, failed 0, unknown 0, unmatched \d+, in flight \d+, "
                        r"[\d.]+ posts/s; mysql up, Kafka up", status), status
        first = s.delivered()
        wait_for("STATUS counters to move", lambda: s.delivered() > first, 30)
        box.systemctl("stop", UNIT)
        rep = s.read_report()
        assert rep["posts_delivered"] >= 40 and rep["posts_failed"] == 0, rep
        v = s.verify()
        assert v["posts_complete"] == rep["posts_delivered"]
        assert v["posts_partial"] == v["posts_missing"] == v["duplicates"] == 0
        assert v["rows_mismatched"] == 0 and v["rows_checked"] == 3 * v["posts_complete"]
        assert any("waiting for Kafka" in x for x in seen), \
            f"STATUS never said what the start-up waits for while activating: {sorted(set(seen))}"
    finally:
        fwd.close()


# ---- 2. reload ----

def test_reload_applies_rate_and_keeps_running_on_broken_config(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    box.systemctl("start", UNIT)
    wait_for("target 20/s in STATUS", lambda: "target 20.0/s" in s.status(), 30)
    pid = box.prop(UNIT, "MainPID")
    s.write_config(rate=60)
    r = box.systemctl("reload", UNIT, check=False)
    assert r.returncode == 0, r.stderr + box.journal_text("-u", UNIT, "-n", "20")
    wait_for("target 60/s in STATUS after reload", lambda: "target 60.0/s" in s.status(), 60)
    assert "configuration reloaded" in box.journal_text("-u", UNIT)
    # The rate is what the daemon does, not only what it says.
    wait_for("sent rate near 60/s", lambda: (
        lambda m: m and 45 <= float(m.group(1)) <= 75)(
            re.search(r"sent ([\d.]+)/s", s.status())), 60)

    s.write_config(text=s.config_text(rate=60) + "emulation_typo: 1\n")
    r = box.systemctl("reload", UNIT, check=False)
    assert r.returncode == 0, r.stderr
    text = wait_for("the journal saying why the reload failed",
                    lambda: (lambda t: t if "reload failed" in t else None)(
                        box.journal_text("-u", UNIT)), 60)
    assert "emulation_typo" in text, text[-3000:]
    d = box.show(UNIT, "ActiveState", "MainPID", "NRestarts")
    assert d == {"ActiveState": "active", "MainPID": pid, "NRestarts": "0"}, d
    before = s.delivered()
    wait_for("posts still delivered after the failed reload", lambda: s.delivered() > before + 20, 60)
    assert "target 60.0/s" in s.status()
    box.systemctl("stop", UNIT)
    s.verify(rows=False)


# ---- 3. watchdog, Restart=on-failure, exit 78 ----

def wait_restarted(box, n, old_pid, timeout=120):
    def probe():
        d = box.show(UNIT, "ActiveState", "NRestarts", "MainPID")
        return d if (d["ActiveState"] == "active" and int(d["NRestarts"]) >= n and
                     d["MainPID"] not in ("0", old_pid)) else None
    return wait_for(f"{UNIT} restarted ({n} restarts)", probe, timeout)


def test_watchdog_and_restart_policy(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    # A short watchdog for the test; a SIGSTOPped process ignores the watchdog's SIGABRT
    # until SIGKILL, which comes TimeoutAbortSec later (by default TimeoutStopSec, 90 s).
    box.drop_in(UNIT, "zz-test-watchdog", "[Service]\nWatchdogSec=3s\nTimeoutAbortSec=3s\n")
    box.systemctl("start", UNIT)
    pid = box.prop(UNIT, "MainPID")
    s.wait_delivered(10)

    box.systemctl("kill", "--kill-who=main", "-s", "SIGSTOP", UNIT)
    d = wait_restarted(box, 1, pid)
    assert "Watchdog timeout" in box.journal_text("-u", UNIT), box.journal_text("-u", UNIT)[-2000:]
    s.wait_delivered(5)

    pid = d["MainPID"]
    box.systemctl("kill", "--kill-who=main", "-s", "SIGKILL", UNIT)
    d = wait_restarted(box, 2, pid)
    s.wait_delivered(5)

    # A configuration error: exit 78, and RestartPreventExitStatus=78 keeps it down.
    s.write_config(text=s.config_text() + "no_such_key: 1\n")
    box.systemctl("restart", UNIT, check=False)
    f = box.wait_state(UNIT, "failed", timeout=60)
    d = box.show(UNIT, "ExecMainStatus", "Result", "NRestarts")
    assert d["ExecMainStatus"] == "78" and d["Result"] == "exit-code", d
    restarts = d["NRestarts"]
    # Not restarted: still failed well after RestartSec (5 s) has passed.
    time.sleep(8)
    d = box.show(UNIT, "ActiveState", "NRestarts")
    assert d == {"ActiveState": "failed", "NRestarts": restarts}, (d, f)
    assert "no_such_key" in box.journal_text("-u", UNIT)


# ---- 4. stop flushes and writes the report; the credentials ----

def test_stop_writes_report_and_credentials_are_private(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    s.write_config(rate=200)
    box.systemctl("start", UNIT)
    s.wait_delivered(300)
    creds = f"/run/credentials/{UNIT}"
    ls = box.exec("ls", "-ln", creds).stdout
    modes = box.exec("stat", "-c", "%a %u %g %n", creds, f"{creds}/db_creds.yaml",
                     f"{creds}/client.properties").stdout.split("\n")
    for line in filter(None, modes):
        mode, uid, gid, path = line.split()
        assert uid == "0", line
        assert int(mode, 8) & 0o007 == 0, f"others may access {path}: {line}\n{ls}"
    for f in ("db_creds.yaml", "client.properties"):
        p = box.exec("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     "cat", f"{creds}/{f}", check=False)
        assert p.returncode != 0 and "Permission denied" in p.stderr, (f, p.stdout, p.stderr)
        assert "s3cret" not in p.stdout
    # The daemon's environment names the credentials directory it read them from.
    assert box.prop(UNIT, "LoadCredential")
    # Nor can anyone but root read the originals in /etc/pinpostd.
    p = box.exec("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 "cat", f"{s.etc}/db_creds.yaml", check=False)
    assert p.returncode != 0

    t0 = time.monotonic()
    box.systemctl("stop", UNIT)
    stop_s = time.monotonic() - t0
    assert box.prop(UNIT, "Result") == "success"
    rep = s.read_report()
    assert rep["posts_delivered"] >= 300 and rep["posts_failed"] == 0, rep
    assert rep.get("posts_unknown", 0) == 0, rep
    text = box.journal_text("-u", UNIT)
    assert "finished:" in text, text[-2000:]
    v = s.verify()
    assert v["posts_complete"] == rep["posts_delivered"], (v, rep)
    print(f"stop took {stop_s:.1f} s; {rep['posts_delivered']} posts verified")
    # Once stopped, the credentials are gone.
    assert box.exec("test", "-e", creds, check=False).returncode != 0


# ---- 5. pinpostd@a and pinpostd@b side by side ----

def test_template_instances_side_by_side(box, mariadb, kafka):
    # pinpostd.service beside the instances: their state directories must not collide
    # (StateDirectory=pinpostd/%i made /var/lib/pinpostd a real directory: 238/STATE_DIRECTORY).
    plain = Setup(box, mariadb, kafka, posts=300)
    a = Setup(box, mariadb, kafka, instance="a")
    b = Setup(box, mariadb, kafka, instance="b", posts=500)
    b.write_config(rate=40)
    box.systemctl("start", plain.unit, a.unit, b.unit)
    plain.wait_delivered(30)
    a.wait_delivered(30)
    b.wait_delivered(60)
    assert len({box.prop(u, "MainPID") for u in (plain.unit, a.unit, b.unit)}) == 3
    box.systemctl("stop", plain.unit, a.unit, b.unit)
    for s in (plain, a, b):
        rep = s.read_report()
        assert rep["instance"] == s.instance, rep
        v = s.verify()
        assert v["posts_complete"] == rep["posts_delivered"] > 0
        assert_clean_journal(box, s.unit)
    # Each instance's records carry its own name.
    for s in (a, b):
        recs = pinpostd_records(box, s.unit)
        assert recs and any(msg_field(r, "PINPOSTD_INSTANCE") == s.instance for r in recs), \
            f"{s.unit}: no record with PINPOSTD_INSTANCE={s.instance}"


# ---- 6. the journal's structured records ----

def test_journal_structured_records(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    box.systemctl("start", UNIT)
    s.wait_delivered(10)
    s.write_config(rate=30)
    box.systemctl("reload", UNIT)
    wait_for("reload applied", lambda: "target 30.0/s" in s.status(), 60)
    s.write_config(text="source: [\n")
    box.systemctl("reload", UNIT)
    wait_for("reload failure logged", lambda: "reload failed" in box.journal_text(
        "SYSLOG_IDENTIFIER=pinpostd"), 60)
    box.systemctl("stop", UNIT)
    box.systemctl("start", UNIT, check=False)  # the broken config: exit 78 at start
    box.wait_state(UNIT, "failed", timeout=60)
    assert box.prop(UNIT, "ExecMainStatus") == "78"

    # Every problem is collected, then reported together.
    problems = []
    everything = [r for r in box.journal("SYSLOG_IDENTIFIER=pinpostd")]
    recs = pinpostd_records(box)
    if not recs:
        pytest.fail("no journal record of the unit with SYSLOG_IDENTIFIER=pinpostd")
    lost = [msg_field(r, "MESSAGE") for r in everything if not r.get("_SYSTEMD_UNIT")]
    if lost:
        problems.append(f"{len(lost)} record(s) without _SYSTEMD_UNIT (not found by "
                        f"`journalctl -u {UNIT}`), e.g. {lost[:3]}")
    by_id = {}
    for r in recs:
        if msg_field(r, "MESSAGE_ID"):
            by_id.setdefault(msg_field(r, "MESSAGE_ID"), []).append(r)
    missing = [k for k in ("start", "ready", "reload_ok", "reload_failed", "stop", "fatal")
               if MID[k] not in by_id]
    if missing:
        problems.append(f"`journalctl -u` finds no MESSAGE_ID for {missing}; "
                        f"ids seen: {sorted(by_id)}")
    for r in recs:
        bad = [f for f in ("CODE_FILE", "CODE_LINE", "CODE_FUNC")
               if not isinstance(r.get(f), str) or not r[f]]
        # One location: the caller's, not also the logger's own (sd_journal_send adds its
        # call site unless told not to).
        if bad or r.get("CODE_FILE") == "src/core/log.c":
            problems.append(f"CODE_* not one caller location: "
                            f"{ {f: r.get(f) for f in ('CODE_FILE', 'CODE_LINE', 'CODE_FUNC')} }")
            break
    noinst = [msg_field(r, "MESSAGE") for r in recs if not msg_field(r, "PINPOSTD_INSTANCE")]
    if noinst:
        problems.append(f"records without PINPOSTD_INSTANCE: {noinst[:3]}")
    if MID["ready"] in by_id:
        ready = by_id[MID["ready"]][0]
        if msg_field(ready, "PINPOSTD_INSTANCE") != s.instance:
            problems.append(f"READY's PINPOSTD_INSTANCE={msg_field(ready, 'PINPOSTD_INSTANCE')}")
        if int(msg_field(ready, "PRIORITY")) < 5:
            problems.append("READY logged above notice")
        # journalctl's own match finds exactly one READY for the one successful start.
        hits = box.journal("-u", UNIT, f"MESSAGE_ID={MID['ready']}")
        if len(hits) != 1:
            problems.append(f"MESSAGE_ID=ready: {len(hits)} records for one READY")
    # "start" is the daemon starting with a configuration: the second start (a broken
    # configuration, exit 78) never got that far and ends in the "exit with an error" event.
    starts = box.journal("-u", UNIT, f"MESSAGE_ID={MID['start']}")
    if len(starts) != 1:
        problems.append(f"MESSAGE_ID=start: {len(starts)} records for one configured start")
    fatals = box.journal("-u", UNIT, f"MESSAGE_ID={MID['fatal']}")
    if len(fatals) != 1 or b"78" not in str(msg_field(fatals[0], "MESSAGE")).encode():
        problems.append(f"MESSAGE_ID=fatal: {len(fatals)} records for one exit 78")
    for k in ("reload_failed", "fatal"):
        if MID[k] in by_id and int(msg_field(by_id[MID[k]][0], "PRIORITY")) > 3:
            problems.append(f"{k} logged below err")
    assert not problems, "\n".join(problems)


# ---- 7. start-up on a big table ----

def test_big_table_extends_start_timeout(box, mariadb, kafka):
    """Learning the keys takes longer than TimeoutStartSec: the unit still becomes active,
    because pinpostd extends the start timeout while it reads them, and says how far it
    got in STATUS. A big table, and a slow link to the database (so that the test needs
    2 M keys rather than the 40 M a real start-up timeout would take)."""
    s = Setup(box, mariadb, kafka, posts=200)
    # The post table: a narrow table of 2 M keys with 1% gaps (the geo and user rows exist
    # for the first 200 only: the rest are sampled and counted unmatched).
    t0 = time.monotonic()
    rows = 2_000_000
    s.sql("CREATE TABLE big_pin (ind BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
    for lo in range(1, rows + 1, 1_000_000):
        s.sql(f"INSERT INTO big_pin SELECT seq FROM seq_{lo}_to_{lo + 999_999} "
              "WHERE seq % 100 <> 0")
    s.sql("ANALYZE TABLE big_pin")
    print(f"loaded {rows} keys in {time.monotonic() - t0:.0f} s")
    # About 12 bytes a key on the wire: ~24 MB at 3 MB/s, ~8 s of learning.
    link = Forwarder("127.0.0.1", mariadb.port, rate=3_000_000)
    link.open()
    try:
        s.write_creds(port=link.port)
        tables = ("  tables:\n    pin: {table: big_pin, key: ind}\n"
                  "    geo: {table: geolocation_data, key: ind}\n"
                  "    user: {table: user_data, key: ind}\n")
        s.write_config(extra_source=tables)
        box.drop_in(UNIT, "zz-test-timeout", "[Service]\nTimeoutStartSec=3s\n")
        t0 = time.monotonic()
        box.systemctl("start", "--no-block", UNIT)
        seen = []

        def probe():
            d = box.show(UNIT, "ActiveState", "StatusText", "NRestarts")
            if d["ActiveState"] == "activating":
                seen.append(d["StatusText"])
            return d
        d = wait_for(f"{UNIT} past start-up", probe, 120, interval=0.2,
                     until=lambda d: d["ActiveState"] in ("active", "failed") or
                     d["NRestarts"] != "0")
        took = time.monotonic() - t0
        text = box.journal_text("-u", UNIT)
        # The interface says "learning keys: N of ~M (P%)"; the daemon's words may differ.
        progress = re.compile(r"(learning keys|reading the post keys): \d+ of (~|about )\d+ "
                              r"\(\d+%\)")
        learning = [x for x in seen if progress.search(x)]
        print(f"{d['ActiveState']} after {took:.1f} s; learning STATUS: {learning[:2]} .. "
              f"{learning[-1:]}")
        assert d["ActiveState"] == "active" and d["NRestarts"] == "0", \
            (d, took, sorted(set(seen))[:8], text[-3000:])
        assert took > 4, f"active in {took:.1f} s: the keys were learned too fast to prove it"
        assert "timed out" not in text
        assert learning, f"no key-learning progress in STATUS while activating: {sorted(set(seen))[:8]}"
        assert len(set(learning)) >= 2, f"STATUS did not progress: {learning}"
        # Running: the counters line (almost every key sampled is unmatched here).
        wait_for("the running STATUS", s.status, 30, until=lambda x: x.startswith("delivered "))
        box.systemctl("stop", UNIT)
    finally:
        link.close()


# ---- 8, 9. no broker chatter at notice, no false credentials warning ----

def test_journal_free_of_chatter_and_false_warnings(box, mariadb, kafka):
    s = Setup(box, mariadb, kafka)
    s.write_config(text=s.config_text(extra="  # exactly-once: the transaction coordinator too\n")
                   .replace("  topic_prefix:", "  delivery: exactly_once\n  topic_prefix:"))
    box.systemctl("start", UNIT)
    s.wait_delivered(20)
    box.systemctl("restart", UNIT)
    s.wait_delivered(20)
    box.systemctl("stop", UNIT)
    mode = box.journal_text("-u", UNIT)
    assert "pinpostd" in mode
    assert_clean_journal(box)
    s.verify(rows=False)
