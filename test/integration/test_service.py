"""The systemd service: the notify protocol seen from a socket the test owns, reload,
watchdog, metrics, the unit files' verification and security rating, make install."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import PINPOSTD, verify
from notify_socket import NotifySocket
from servers import free_port

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def start(env, notify, *args, watchdog_usec=None, extra_env=None):
    e = dict(os.environ, NOTIFY_SOCKET=notify.path)
    if watchdog_usec:
        e["WATCHDOG_USEC"] = str(watchdog_usec)
    e.update(extra_env or {})
    log = open(env.tmp / "pinpostd.log", "w+")
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), *args], env=e,
                            stdout=subprocess.DEVNULL, stderr=log)
    return proc, log


def delivered(notify):
    counts = [int(m) for m in re.findall(r"STATUS=delivered (\d+)", "\n".join(notify.texts()))]
    return counts[-1] if counts else 0


def test_notify_sequence_reload_and_broken_reload(env, tmp_path):
    env.load(500)
    notify = NotifySocket(tmp_path / "notify.sock")
    metrics = tmp_path / "pinpostd.prom"
    env.write_config(extra=f"  metrics_file: {metrics}\n")
    proc, log = start(env, notify, "--rate", "50", watchdog_usec=1000000)
    try:
        ready = notify.wait_for("READY=1", 60)
        notify.wait_for("STATUS=delivered", 15, after=ready)
        notify.wait_for("WATCHDOG=1", 5, after=ready)
        # Reload with a valid configuration (a new rate): RELOADING=1 then READY=1.
        env.write_config(extra=f"  metrics_file: {metrics}\n")
        env.config.write_text(env.config.read_text() + "emulation:\n  rate: 80\n")
        proc.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", 15)
        notify.wait_for("READY=1", 30, after=reloading)
        before = delivered(notify)
        # A broken configuration: the old one keeps running.
        env.config.write_text("source: [broken\n")
        proc.send_signal(signal.SIGHUP)
        second = notify.wait_for("RELOADING=1", 15, after=reloading)
        notify.wait_for("READY=1", 30, after=second)
        time.sleep(6)
        assert proc.poll() is None, "pinpostd exited after a broken reload"
        assert delivered(notify) > before, "no posts delivered after the broken reload"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        notify.wait_for("STOPPING=1", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    log.seek(0)
    text = log.read()
    assert "configuration reloaded" in text
    assert "reload failed: keeping the running configuration" in text
    assert "YAML syntax error" in text
    msgs = notify.texts()
    order = [m.split("=")[0] for m in msgs if m.split("=")[0] in ("READY", "RELOADING", "STOPPING")]
    assert order == ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"], order
    prom = metrics.read_text()
    assert re.search(r'pinpostd_posts_delivered_total\{instance="[^"]+"\} [1-9]', prom)
    assert 'pinpostd_delivery_latency_seconds_bucket{instance=' in prom and 'le="+Inf"' in prom
    assert re.search(r'pinpostd_up\{instance="[^"]+",end="kafka"\} 1', prom)


def test_no_ready_while_mysql_is_down(env, tmp_path):
    port = free_port()  # nothing listens here
    env.creds.write_text(env.creds.read_text().replace(f"RDS_PORT: {env.db.port}",
                                                       f"RDS_PORT: {port}"))
    notify = NotifySocket(tmp_path / "notify.sock")
    proc, log = start(env, notify, "--rate", "10")
    try:
        time.sleep(6)
        assert proc.poll() is None
        assert not any(m.startswith("READY=1") for m in notify.texts())
        assert any("waiting for MySQL" in m for m in notify.texts())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def test_reading_the_keys_of_a_big_table_reports_progress_and_extends_the_start(env, tmp_path):
    env.load(100)
    # 300 000 more keys (rows of the post table only): reading them takes a while.
    env.sql("INSERT INTO pinterest_data (`index`, unique_id) "
            "SELECT seq + 1000, UUID() FROM seq_1_to_300000")
    env.sql("ANALYZE TABLE pinterest_data")  # the row estimate the progress is measured by
    notify = NotifySocket(tmp_path / "notify.sock")
    proc, log = start(env, notify, "--rate", "1")
    try:
        ready = notify.wait_for("READY=1", 120)
        with notify.lock:
            before = [m for t, m in notify.messages if t < ready]
        progress = [re.fullmatch(r"STATUS=starting: reading the post keys: (\d+) of about (\d+) "
                                 r"\((\d+)%\)", m) for m in before]
        progress = [m for m in progress if m]
        assert progress, before
        done, about = int(progress[0][1]), int(progress[0][2])
        assert done % 65536 == 0 and 0 < done <= 300100
        assert 150000 <= about <= 600000  # InnoDB's estimate of 300 100 rows
        extend = [m for m in before if m.startswith("EXTEND_TIMEOUT_USEC=")]
        assert extend and all(m == "EXTEND_TIMEOUT_USEC=30000000" for m in extend)
        # Each progress report extends the start, none comes after READY.
        assert len(extend) == len(progress)
        assert not any(m.startswith("EXTEND_TIMEOUT_USEC=") for t, m in notify.messages
                       if t > ready)
        assert "reading the post keys" not in "".join(
            m for t, m in notify.messages if t > ready and m.startswith("STATUS=ready"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) in (0, 1)  # unmatched keys only may leave nothing delivered
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def freeze(pid, seconds):
    """SIGSTOP a server for `seconds` (SIGCONT even on failure); returns when it froze."""
    os.kill(pid, signal.SIGSTOP)
    try:
        stop_at = time.monotonic()
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
    return stop_at


def test_watchdog_stops_while_the_main_loop_is_wedged(env, tmp_path):
    env.load(200)
    notify = NotifySocket(tmp_path / "notify.sock")
    # One fresh database round trip per post, so a frozen database blocks the loop.
    proc, log = start(env, notify, "--delay", "0.05:0.1", watchdog_usec=1000000)
    try:
        ready = notify.wait_for("READY=1", 60)
        time.sleep(3)
        stop_at = freeze(env.db.proc.pid, 5)
        resumed = notify.wait_for("WATCHDOG=1", 60, after=stop_at + 4.5)
        pings = notify.times("WATCHDOG=1")
        before = [t for t in pings if ready < t < stop_at]
        during = [t for t in pings if stop_at + 1 < t < stop_at + 4.5]
        assert len(before) >= 4, f"{len(before)} pings in the healthy 3 s"
        assert not during, f"{len(during)} watchdog pings while the loop was blocked"
        assert resumed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def test_watchdog_goes_on_while_a_stalled_broker_fills_the_queue(env, tmp_path):
    """A full local queue is waited out in the main loop, not inside produce: with the
    broker frozen, WATCHDOG=1 keeps coming; after it thaws, every post arrives."""
    env.load(200)
    env.write_config(extra_kafka="  settings:\n    queue.buffering.max.messages: 300\n")
    notify = NotifySocket(tmp_path / "notify.sock")
    proc, log = start(env, notify, "--rate", "0", "--report", str(tmp_path / "report.json"),
                      watchdog_usec=1000000)
    try:
        notify.wait_for("READY=1", 60)
        time.sleep(0.5)
        stop_at = freeze(env.kafka.proc.pid, 5)
        during = [t for t in notify.times("WATCHDOG=1") if stop_at + 1 < t < stop_at + 4.5]
        assert len(during) >= 4, f"{len(during)} watchdog pings in 3.5 s of a frozen broker"
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, open(log.name).read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    rep = json.loads((tmp_path / "report.json").read_text())
    n = rep["posts_delivered"]
    assert n > 100 and n == rep["posts_sampled"] and rep["posts_failed"] == 0
    verify(env, n, check_rows=False)


def analyze(*args):
    exe = shutil.which("systemd-analyze")
    if not exe:
        pytest.skip("SKIPPED: systemd-analyze is not installed; the unit files were NOT verified")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("unit", ["pinpostd.service", "pinpostd@.service"])
def test_unit_security_exposure_at_most_1_5(unit):
    p = analyze("security", "--offline=true", os.path.join(REPO, "systemd", unit))
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    assert m, p.stdout[-2000:] + p.stderr
    assert float(m.group(1)) <= 1.5, p.stdout


def test_units_verify_clean(tmp_path):
    # The installed layout: the binary where ExecStart says, the man pages on MANPATH.
    for unit in ("pinpostd.service", "pinpostd@.service"):
        text = open(os.path.join(REPO, "systemd", unit)).read()
        (tmp_path / unit).write_text(text.replace("/usr/local/bin/pinpostd",
                                                  os.path.abspath(PINPOSTD)))
    env = dict(os.environ, MANPATH=os.path.join(REPO, "docs", "man") + ":")
    exe = shutil.which("systemd-analyze")
    if not exe:
        pytest.skip("SKIPPED: systemd-analyze is not installed; the unit files were NOT verified")
    for unit in ("pinpostd.service", "pinpostd@main.service"):
        if "@main" in unit:
            shutil.copy(tmp_path / "pinpostd@.service", tmp_path / unit)
        p = subprocess.run([exe, "verify", str(tmp_path / unit)], capture_output=True, text=True,
                           env=env, timeout=120)
        assert p.returncode == 0 and not p.stderr.strip(), p.stderr


def test_make_install_lays_out_the_tree(tmp_path):
    dest = tmp_path / "root"
    p = subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    files = {str(f.relative_to(dest)): oct(f.stat().st_mode & 0o777)
             for f in dest.rglob("*") if f.is_file()}
    assert files == {
        "usr/bin/pinpostd": "0o755", "usr/bin/pinpost-gen": "0o755",
        "usr/bin/pinpost-verify": "0o755",
        "usr/lib/systemd/system/pinpostd.service": "0o644",
        "usr/lib/systemd/system/pinpostd@.service": "0o644",
        "usr/share/man/man8/pinpostd.8": "0o644",
        "usr/share/man/man5/pinpostd.yaml.5": "0o644",
        "usr/share/man/man1/pinpost-gen.1": "0o644",
        "usr/share/man/man1/pinpost-verify.1": "0o644",
        "etc/pinpostd/pinpostd.yaml": "0o644",
        "etc/pinpostd/db_creds.yaml": "0o600",
        "etc/pinpostd/client.properties": "0o600",
    }, files
    unit = (dest / "usr/lib/systemd/system/pinpostd.service").read_text()
    assert "ExecStart=/usr/bin/pinpostd -c /etc/pinpostd/pinpostd.yaml" in unit
    # Existing configuration survives a reinstall.
    (dest / "etc/pinpostd/db_creds.yaml").write_text("edited\n")
    subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr"], cwd=REPO,
                   check=True, capture_output=True, timeout=300)
    assert (dest / "etc/pinpostd/db_creds.yaml").read_text() == "edited\n"
    for page in ("usr/share/man/man8/pinpostd.8", "usr/share/man/man5/pinpostd.yaml.5",
                 "usr/share/man/man1/pinpost-gen.1", "usr/share/man/man1/pinpost-verify.1"):
        r = subprocess.run(["man", "-l", str(dest / page)], capture_output=True, text=True,
                           env=dict(os.environ, MANPAGER="cat", PAGER="cat", COLUMNS="80"),
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert "NAME" in r.stdout and "DESCRIPTION" in r.stdout and "pinpost" in r.stdout


def test_installed_example_config_loads_with_systemd_credentials(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    shutil.copy(os.path.join(REPO, "etc", "db_creds.yaml"), creds)
    (creds / "client.properties").write_text("bootstrap.servers=127.0.0.1:1\n")
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
    p = subprocess.run([PINPOSTD, "-c", os.path.join(REPO, "etc", "pinpostd.yaml"), "--check",
                        "--dry-run"], capture_output=True, text=True, env=env, timeout=120)
    # The example points at a database that is not there (exit 1, not 78): what matters is
    # that the configuration loaded its secrets from $CREDENTIALS_DIRECTORY.
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"config: {os.path.join(REPO, 'etc', 'pinpostd.yaml')}" in p.stdout
    assert "password: (set, redacted)" in p.stdout and "change-me" not in p.stdout
    assert "source: FAILED" in p.stdout


def test_journal_stream_gets_priority_prefixes(tmp_path):
    log = tmp_path / "stderr"
    with open(log, "w") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        p = subprocess.run([PINPOSTD, "--demo", "--dry-run", "--count", "3", "--seed", "1"],
                           stdout=subprocess.DEVNULL, stderr=f, env=env, timeout=60)
    assert p.returncode == 0
    lines = log.read_text().splitlines()
    if os.path.exists("/run/systemd/journal/socket"):
        # A journald runs here: the entries went to its socket (the system tier reads
        # them back with their fields), nothing to stderr.
        assert lines == [], lines
    else:
        # The stream without journald's socket (a container): "<N>" lines, not lost.
        assert lines and all(re.match(r"<[0-7]>", l) for l in lines), lines
        assert any(l.startswith("<5>") for l in lines)  # notice: starting, finished
    # Not the journal: plain timestamped lines.
    p = subprocess.run([PINPOSTD, "--demo", "--dry-run", "--count", "3", "--seed", "1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},
                       timeout=60)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} pinpostd notice: ", p.stderr)
