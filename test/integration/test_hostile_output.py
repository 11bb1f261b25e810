"""Where the programs' output goes when the user (or someone else on the host) makes it
hard: a closed or full stdout, report and metrics paths that are planted symlinks,
devices, pipes or directories, row text that tries to forge log lines."""

import json
import os
import resource
import signal
import socket
import stat
import subprocess

import pytest

from conftest import PINPOST_VERIFY, PINPOSTD


def pinpostd(env, *args, stdout=subprocess.PIPE, preexec_fn=None, timeout=120):
    """Run pinpostd on the test's config; stderr is returned as bytes, undecoded, so that
    a CR or ESC in it is seen as it is."""
    return subprocess.run([PINPOSTD, "-c", str(env.config), *args], stdout=stdout,
                          stderr=subprocess.PIPE, preexec_fn=preexec_fn, timeout=timeout)


def close_stdout():
    os.close(1)


def err(p):
    return p.stderr.decode("utf-8", "replace")


def report(path):
    return json.loads(path.read_text())


def private_device(tmp_path, name, minor):
    """A character device node of our own (1,3 is null, 1,7 is full), so that a test that
    fails (as the head binaries do) replaces this node, never the host's /dev/null."""
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")
    return path


def test_closed_stdout_dry_run_fails_instead_of_writing_into_a_socket(env):
    env.load(100)
    rep_path = env.tmp / "r.json"
    p = pinpostd(env, "--dry-run", "--count", "40", "--rate", "0", "--report", str(rep_path),
                 stdout=None, preexec_fn=close_stdout)
    assert p.returncode == 1, err(p)
    assert "dry run: standard output is closed (it was closed when the program started)" \
        in err(p)
    rep = report(rep_path)
    assert rep["posts_delivered"] == 0
    assert rep["posts_failed"] == rep["posts_sampled"] >= 1
    assert rep["messages_delivered"] == 0


def test_report_to_a_closed_stdout_is_an_error(env):
    env.load(100)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", "-", stdout=None,
                 preexec_fn=close_stdout)
    assert p.returncode == 1, err(p)
    assert ("cannot write the report (--report, service.report): standard output is closed"
            in err(p))
    # The posts themselves went to Kafka: only the report is missing.
    assert "finished: posts delivered 3 " in err(p)


def test_dry_run_into_a_full_device_fails_its_posts(env):
    env.load(100)
    rep_path = env.tmp / "r.json"
    with open("/dev/full", "wb") as full:
        p = pinpostd(env, "--dry-run", "--count", "3", "--rate", "0", "--report",
                     str(rep_path), stdout=full)
    assert p.returncode == 1, err(p)
    assert "dry run: cannot write to standard output: No space left on device" in err(p)
    rep = report(rep_path)
    assert rep["posts_delivered"] == 0
    assert rep["posts_failed"] == rep["posts_sampled"] >= 1
    assert rep["messages_delivered"] == 0 and rep["messages_failed"] == 3 * rep["posts_failed"]
    # Percentiles describe deliveries; there were none.
    assert rep["latency_ms"]["max"] == 0


def test_planted_symlinks_never_redirect_the_report(env):
    env.load(100)
    victim = env.tmp / "victim"
    victim.write_text("precious\n")
    # The old fixed temporary name, planted.
    rep1 = env.tmp / "r1.json"
    os.symlink(victim, env.tmp / "r1.json.tmp")
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(rep1))
    assert p.returncode == 0, err(p)
    assert victim.read_text() == "precious\n"
    assert report(rep1)["posts_delivered"] == 3
    # The target itself, planted: the link is replaced, what it points to is untouched.
    rep2 = env.tmp / "r2.json"
    os.symlink(victim, rep2)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(rep2))
    assert p.returncode == 0, err(p)
    assert victim.read_text() == "precious\n"
    assert stat.S_ISREG(os.lstat(rep2).st_mode)
    assert report(rep2)["posts_delivered"] == 3
    leftovers = sorted(n for n in os.listdir(env.tmp) if ".json." in n and n != "r1.json.tmp")
    assert leftovers == []


def test_devices_pipes_and_links_to_stdout_are_written_directly(env):
    env.load(100)
    null = private_device(env.tmp, "null", 3)
    full = private_device(env.tmp, "full", 7)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(null))
    assert p.returncode == 0, err(p)
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(full))
    assert p.returncode == 1, err(p)
    assert f"cannot write the report (--report, service.report): {full}: cannot write to " \
           "it: No space left on device" in err(p)
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    # A FIFO, as --report >(cat) hands over: read back what came through it.
    fifo = env.tmp / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(fifo))
        assert p.returncode == 0, err(p)
        data = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert json.loads(data)["posts_delivered"] == 3
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # A link of ours to our stdout (what /dev/stdout is): the report arrives on stdout.
    link = env.tmp / "stdout"
    os.symlink("/proc/self/fd/1", link)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(link))
    assert p.returncode == 0, err(p)
    assert json.loads(p.stdout)["posts_delivered"] == 3
    assert stat.S_ISLNK(os.lstat(link).st_mode)


def test_report_errors_leave_the_old_file_and_no_temporary(env):
    env.load(100)
    sub = env.tmp / "sub"
    sub.mkdir()
    before = sorted(os.listdir(env.tmp))
    # Known at start: a configuration error before anything is sent, not a report lost
    # at the end of a long run.
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(sub))
    assert p.returncode == 78, err(p)
    assert f"service.report (--report, PINPOSTD_REPORT) {sub}: is a directory; give a file " \
           "name" in err(p)
    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(env.tmp / "no/r.json"))
    assert p.returncode == 78, err(p)
    assert f"{env.tmp}/no/r.json: cannot create a file in the directory {env.tmp}/no: " \
           "No such file or directory" in err(p)
    assert "posts delivered" not in err(p)
    assert sorted(os.listdir(env.tmp)) == before
    assert os.listdir(sub) == []

    # A file system that takes no more (RLIMIT_FSIZE fails the write as a full disk would).
    old = env.tmp / "r.json"
    old.write_text("old\n")

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, resource.RLIM_INFINITY))

    p = pinpostd(env, "--count", "3", "--rate", "0", "--report", str(old),
                 preexec_fn=small_files)
    assert p.returncode == 1, err(p)
    assert f"{old}: cannot write the new contents (the old file is unchanged): File too " \
           "large" in err(p)
    assert old.read_text() == "old\n"
    assert sorted(os.listdir(env.tmp)) == sorted(before + ["r.json"])


def test_metrics_file_is_written_safely_and_counts_unknown_posts(env):
    env.load(100)
    metrics = env.tmp / "pinpostd.prom"
    env.write_config(extra=f"  metrics_file: {metrics}\n")
    victim = env.tmp / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, env.tmp / "pinpostd.prom.tmp")
    p = pinpostd(env, "--count", "3", "--rate", "0")
    assert p.returncode == 0, err(p)
    assert victim.read_text() == "precious\n"
    text = metrics.read_text()
    inst = f'{{instance="{env.instance}"}}'
    assert f"pinpostd_posts_delivered_total{inst} 3\n" in text
    assert f"pinpostd_posts_unknown_total{inst} 0\n" in text
    assert "# TYPE pinpostd_posts_unknown_total counter\n" in text
    # Pointed at a device, the device stays a device.
    null = private_device(env.tmp, "null", 3)
    env.write_config(extra=f"  metrics_file: {null}\n")
    p = pinpostd(env, "--count", "3", "--rate", "0")
    assert p.returncode == 0, err(p)
    assert "cannot write metrics" not in err(p)
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_row_text_cannot_forge_log_lines_or_drive_the_terminal(env):
    env.load(20)
    forged = "2026-01-01 00:00:00.000 pinpostd error: forged"
    env.sql("UPDATE pinterest_data SET category = CONCAT('Art', CHAR(10), "
            f"'{forged}', CHAR(27), '[2J', CHAR(13), 'x')")
    env.sql("UPDATE geolocation_data SET country = CONCAT('F', CHAR(13), 'R', CHAR(7), "
            "CHAR(0xC2, 0x9B USING utf8mb4), '2J', CHAR(0xC3, 0xA9 USING utf8mb4))")
    # Slow enough for one log line per post.
    p = pinpostd(env, "--count", "2", "--rate", "5")
    assert p.returncode == 0, err(p)
    raw = p.stderr
    assert b"\r" not in raw and b"\x1b" not in raw and b"\x07" not in raw
    assert b"\xc2\x9b" not in raw
    lines = raw.decode("utf-8").split("\n")
    assert not [l for l in lines if l.startswith(forged)]
    delivered = [l for l in lines if " delivered: category " in l]
    assert len(delivered) == 2, err(p)
    for line in delivered:
        assert " pinpostd info: post " in line
        assert f"category Art\\n{forged}\\x1b[2J\\rx, country F\\rR\\x07\\u009b2J\u00e9;" in line


def test_verify_labels_its_log_lines_with_its_own_name(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: the client logs its connection failures
    p = subprocess.run([PINPOST_VERIFY, "-b", f"127.0.0.1:{port}", "-p", "nothing",
                        "--timeout", "2"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    logged = [l for l in p.stderr.splitlines() if " error: kafka " in l]
    assert logged, p.stderr
    assert all(" pinpost-verify error: kafka " in l for l in logged), p.stderr
    assert " pinpostd " not in p.stderr


def test_check_and_verify_answers_that_cannot_be_written_are_failures(env, tmp_path):
    # --check's summary into a full device, or with stdout closed: not "OK" (exit 0).
    full = private_device(tmp_path, "full", 7)
    with open(full, "w") as out:
        p = pinpostd(env, "--check", "--demo", "--dry-run", stdout=out)
    assert p.returncode == 1, err(p)
    assert "cannot write to standard output: No space left on device" in err(p)
    p = pinpostd(env, "--check", "--demo", "--dry-run", preexec_fn=close_stdout)
    assert p.returncode == 1, err(p)
    # pinpost-verify's verdict unreadable: exit 2 (unverified), never 0.
    env.load(20)
    p, rep_unused = env.run("--count", "5", "--rate", "0", check_exit=0)
    v = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--timeout", "30",
                        "--expect", "5", "--instance", env.instance],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=close_stdout)
    assert v.returncode == 2, v.stderr.decode()
    assert "cannot write the result to standard output (it was closed at start)" in \
        v.stderr.decode()


def test_report_into_a_fifo_nobody_reads_is_an_error_not_a_hang(env, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = pinpostd(env, "--demo", "--dry-run", "--count", "3", "--report", str(fifo),
                 stdout=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 1, err(p)
    assert f"{fifo}: is a pipe that no process reads from" in err(p)


def test_a_file_size_limit_fails_posts_instead_of_killing_the_run(env, tmp_path):
    out = tmp_path / "out.jsonl"
    rep_path = tmp_path / "r.json"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    with open(out, "wb") as f:
        p = subprocess.run([PINPOSTD, "--demo", "--dry-run", "--count", "100", "--report",
                            str(rep_path)], stdout=f, stderr=subprocess.PIPE,
                           preexec_fn=limit, timeout=60)
    assert p.returncode == 1, err(p)  # not killed by SIGXFSZ (exit -25)
    assert "File too large" in err(p)
    rep = report(rep_path)
    assert rep["posts_failed"] == 1 and rep["posts_delivered"] < 100


def test_metrics_file_fifo_without_reader_never_stalls_the_loop(env, tmp_path):
    fifo = tmp_path / "metrics.fifo"
    os.mkfifo(fifo)
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(f"service:\n  metrics_file: {fifo}\n")
    p = subprocess.run([PINPOSTD, "--demo", "-c", str(cfg), "--count", "60", "--rate", "20"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, err(p)
    assert f"{fifo}: is a pipe that no process reads from" in err(p)


@pytest.mark.parametrize("path", ["/dev/stdout", "/dev/fd/1"])
def test_report_through_a_link_to_a_closed_stdout_is_an_error(env, path):
    p = pinpostd(env, "--demo", "--count", "1", "--delay", "0:0", "--report", path,
                 preexec_fn=close_stdout)
    assert p.returncode == 1, err(p)
    assert f"{path}: standard output is closed" in err(p)
