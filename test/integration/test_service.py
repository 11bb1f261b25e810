"""The systemd service: the notify protocol seen from a socket the test owns, reload,
watchdog, metrics, the unit files' verification and security rating, make install."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import PINPOSTD, verify
from message_ids import man_page_message_ids
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
        # "N of about M (P%)" while the server's estimate holds, "N so far" past it.
        progress = [re.fullmatch(r"STATUS=starting: reading the post keys: (\d+) "
                                 r"(?:of about (\d+) \(\d+%\)|so far)", m) for m in before]
        progress = [m for m in progress if m]
        assert progress, before
        done = int(progress[0][1])
        assert done % 65536 == 0 and 0 < done <= 300100
        about = [int(m[2]) for m in progress if m[2]]
        assert about and all(150000 <= a <= 600000 for a in about)  # InnoDB: ~300 100 rows
        # Each progress report extends the start by 30 s, right after its STATUS.
        for i, m in enumerate(before):
            if m.startswith("STATUS=starting: reading the post keys"):
                assert before[i + 1] == "EXTEND_TIMEOUT_USEC=30000000", before[i:i + 2]
        assert sum(m.startswith("EXTEND_TIMEOUT_USEC=") for m in before) == len(progress)
        # None after READY.
        assert not any(m.startswith("EXTEND_TIMEOUT_USEC=") for t, m in notify.messages
                       if t > ready)
        proc.send_signal(signal.SIGTERM)
        # 100 of 300 100 keys have a whole post: posts may or may not have left.
        assert proc.wait(60) == 0, log.read()
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


def parse_journal_datagram(data):
    """The journal's native protocol: NAME=value lines, or NAME, a little-endian 64-bit
    length and the bytes for values with newlines. Returns [(name, value bytes)]."""
    out, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name, n = line, struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            value = data[nl + 9:nl + 9 + n]
            assert data[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        out.append((name.decode(), value))
    return out


def run_with_a_journal(tmp_path, *args):
    """Run pinpostd with stderr as its "journal stream" and a journal socket of the test's
    own at /run/systemd/journal/socket (a private mount namespace: the host's journal, if
    any, sees nothing). Returns (exit status, stderr text, [entries as lists of fields])."""
    sock_path = str(tmp_path / "journal.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    err_path = tmp_path / "stderr"
    try:
        with open(err_path, "w") as err:
            st = os.fstat(err.fileno())
            env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            setup = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
                     'touch /run/systemd/journal/socket && '
                     'mount --bind "$1" /run/systemd/journal/socket && shift && exec "$@"')
            p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                setup, "sh", sock_path, PINPOSTD, *args],
                               stdout=subprocess.DEVNULL, stderr=err, env=env, timeout=120)
        entries = []
        sock.setblocking(False)
        while True:
            try:
                entries.append(parse_journal_datagram(sock.recv(1 << 20)))
            except BlockingIOError:
                break
        return p.returncode, err_path.read_text(), entries
    finally:
        sock.close()
        os.unlink(sock_path)


def test_journal_entries_carry_structured_fields_and_message_ids(env, tmp_path):
    ids = man_page_message_ids()
    assert len(ids) == 11 and len(set(ids.values())) == 11, ids
    env.load(50)
    status, err, entries = run_with_a_journal(tmp_path, "-c", str(env.config), "--count", "3",
                                              "--rate", "5", "--seed", "7")
    assert status == 0, err
    assert err == ""  # every message went to the journal
    assert len(entries) >= 5
    for e in entries:
        names = [n for n, _ in e]
        for once in ("MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE",
                     "CODE_FUNC", "PINPOSTD_INSTANCE"):
            assert names.count(once) == 1, (once, e)
        f = dict(e)
        assert f["SYSLOG_IDENTIFIER"] == b"pinpostd"
        assert f["PINPOSTD_INSTANCE"] == env.instance.encode()
        assert f["CODE_FILE"].startswith(b"src/") and int(f["CODE_LINE"]) > 0
        assert 0 <= int(f["PRIORITY"]) <= 7
    by_id = {}
    for e in entries:
        f = dict(e)
        if "MESSAGE_ID" in f:
            by_id.setdefault(f["MESSAGE_ID"].decode(), []).append(f)
    for event in ("start", "ready", "stop"):
        assert len(by_id.get(ids[event], [])) == 1, (event, sorted(by_id))
    assert by_id[ids["start"]][0]["PRIORITY"] == b"5"
    assert by_id[ids["ready"]][0]["CODE_FUNC"] == b"pp_runner_run"
    assert ids["exit with an error"] not in by_id
    # One delivery line per post, with the post's key, its sequence number and its topics.
    posts = [e for e in entries if dict(e).get("PINPOSTD_POST_KEY")]
    assert sorted(int(dict(e)["PINPOSTD_SEQ"]) for e in posts) == [1, 2, 3]
    for e in posts:
        f = dict(e)
        assert f["MESSAGE"].startswith(b"post " + f["PINPOSTD_POST_KEY"] + b" seq ")
        assert [v.decode() for n, v in e if n == "PINPOSTD_TOPIC"] == list(env.topics.values())

    # A configuration error ends with the "exit with an error" event, at error level.
    bad = tmp_path / "bad.yaml"
    bad.write_text("emulation:\n  rate: -1\n")
    status, err, entries = run_with_a_journal(tmp_path, "-c", str(bad), "--demo", "--dry-run")
    assert status == 78
    last = dict(entries[-1])
    assert last.get("MESSAGE_ID", b"").decode() == ids["exit with an error"], entries[-1]
    assert last["PRIORITY"] == b"3" and b"configuration error" in last["MESSAGE"]
