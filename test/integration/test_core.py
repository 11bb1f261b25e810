"""The core daemon against real MariaDB and Kafka: matching, completeness, restarts,
configuration errors."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import PINPOSTD, PINPOSTD_PLAIN, VALGRIND, verify
from servers import MariaDB


def test_10000_posts_from_11000_all_matched(env):
    env.load(11000)
    p, rep = env.run("--count", "10000", "--rate", "0", "--seed", "42", check_exit=0)
    assert rep["posts_delivered"] == 10000
    assert rep["posts_failed"] == 0
    assert rep["messages_delivered"] == 30000
    assert rep["instance"] == env.instance and rep["seed"] == 42
    for t in ("pin", "geo", "user"):
        assert rep["per_topic"][t]["messages_delivered"] == 10000
    posts = verify(env, 10000)
    assert len(posts) == 10000
    # Sampling is uniform over 11 000 keys: 10 000 draws hit thousands of distinct keys.
    distinct = {p["pin"][0] for p in posts.values()}
    assert 5500 < len(distinct) < 6800, len(distinct)
    assert MariaDB.PASSWORD not in p.stdout + p.stderr


def test_posts_missing_geo_or_user_rows_are_never_produced(env):
    env.load(3000)
    env.sql("DELETE FROM geolocation_data WHERE ind % 7 = 0")
    env.sql("DELETE FROM user_data WHERE ind % 11 = 0")
    _, rep = env.run("--count", "2000", "--rate", "0", "--seed", "3", check_exit=0)
    assert rep["posts_delivered"] == 2000
    assert rep["posts_unmatched"] > 0
    posts = verify(env, 2000)
    for seq, p in posts.items():
        key = int(p["pin"][0])
        assert key % 7 and key % 11, f"post {seq} has key {key} whose rows were deleted"


def test_keys_with_gaps_are_sampled_only_where_rows_exist(env):
    env.load(2000, "--gaps", "0.3")
    existing = {r[0] for r in env.sql("SELECT `index` FROM pinterest_data")}
    _, rep = env.run("--count", "1500", "--rate", "0", "--seed", "5", check_exit=0)
    assert rep["posts_unmatched"] == 0
    posts = verify(env, 1500, check_rows=False)
    keys = {int(p["pin"][0]) for p in posts.values()}
    assert keys <= existing


def test_mariadb_restart_mid_run_completes_without_partial_posts(env):
    env.load(2000)
    proc, report = env.popen("--count", "1500", "--rate", "150", "--seed", "11")
    try:
        time.sleep(3)
        env.db.stop()
        time.sleep(3)
        env.db.start()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if env.db.proc is None:
            env.db.start()
    assert proc.returncode == 0, err[-3000:]
    assert "source unavailable" in err
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 1500
    verify(env, 1500)


def test_sigterm_flushes_everything_in_flight(env):
    env.load(1000)
    proc, report = env.popen("--rate", "0", "--seed", "9")
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] > 100
    assert rep["posts_delivered"] == rep["posts_sampled"]
    posts = verify(env, rep["posts_delivered"], check_rows=False)
    print(f"SIGTERM: sent {rep['posts_sampled']}, verified {len(posts)}, lost 0, duplicated 0")


def test_new_rows_are_picked_up_without_restart(env):
    from notify_socket import NotifySocket
    env.load(20)
    env.write_config(extra_source="  keyspace_refresh: 0.5\n")
    notify = NotifySocket(env.tmp / "notify.sock")
    os.environ["NOTIFY_SOCKET"] = notify.path
    try:
        proc, report = env.popen("--count", "600", "--rate", "100", "--seed", "1")
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        # READY=1 comes after the post keys were read: only keys 1..20 are known then.
        notify.wait_for("READY=1", 60)
        env.sql("INSERT INTO pinterest_data SELECT `index` + 20, unique_id, title, description, "
                "poster_name, follower_count, tag_list, is_image_or_video, image_src, downloaded, "
                "save_location, category FROM pinterest_data")
        env.sql("INSERT INTO geolocation_data SELECT ind + 20, `timestamp`, latitude, longitude, "
                "country FROM geolocation_data")
        env.sql("INSERT INTO user_data SELECT ind + 20, first_name, last_name, age, date_joined "
                "FROM user_data")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    assert proc.returncode == 0, err[-3000:]
    assert "keyspace: 20 new post(s), now 40" in err
    posts = verify(env, 600)
    keys = [int(p["pin"][0]) for _, p in sorted(posts.items())]
    assert any(k > 20 for k in keys), "rows added during the run were never sampled"


def test_same_seed_same_posts_whatever_the_batch_size(env):
    env.load(500)
    outs = []
    for pacing in (["--rate", "0"], ["--rate", "200"], ["--delay", "0:0"]):
        p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "300",
                            "--seed", "77", *pacing], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert len(outs[0].splitlines()) == 900


def test_check_reports_both_ends_without_secrets(env):
    env.load(10)
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "10 post keys" in p.stdout
    assert f"topic {env.prefix}.geo: 3 partition(s)" in p.stdout
    assert "s3cret" not in p.stdout + p.stderr


def test_check_with_wrong_password_exits_78(env):
    env.creds.write_text(env.creds.read_text().replace("s3cret-Pa55", "Not-The-Pw-91"))
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 78, p.stdout + p.stderr
    assert "Access denied" in p.stdout
    assert "Not-The-Pw-91" not in p.stdout + p.stderr


def test_missing_table_is_a_configuration_error(env):
    env.load(10)
    env.write_config(extra_source="  tables:\n    geo: {table: no_such_table}\n")
    p, _ = env.run("--count", "1", "--rate", "0")
    assert p.returncode == 78, p.stderr
    assert "source.tables.geo" in p.stderr and "no_such_table" in p.stderr


def test_sigterm_shutdown_against_real_servers_is_valgrind_clean(env):
    import shutil
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is missing: run `make deps`")
    env.load(300)
    proc = subprocess.Popen([*VALGRIND, PINPOSTD_PLAIN,
                             "-c", str(env.config), "--rate", "50", "--seed", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "definitely lost: 0 bytes" in err or "no leaks are possible" in err


def test_ten_thousand_posts_under_valgrind_memcheck(env):
    """Issue 7: a 10 000-post run against the real servers, every access checked by
    memcheck, no leak at exit, and every post read back whole."""
    import shutil
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is missing: run `make deps`")
    env.load(2000)
    report = env.tmp / "valgrind-report.json"
    p = subprocess.run([*VALGRIND, PINPOSTD_PLAIN, "-c", str(env.config), "--count", "10000",
                        "--rate", "0", "--seed", "10", "--report", str(report), "-q"],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "ERROR SUMMARY: 0 errors from 0 contexts" in p.stderr, p.stderr[-3000:]
    assert "definitely lost: 0 bytes" in p.stderr or "no leaks are possible" in p.stderr
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 10000 and rep["posts_failed"] == 0
    verify(env, 10000)


def sasl_properties(env, listener, mechanism, password):
    """A client.properties as Java clients write it: JAAS login module, PEM trust store."""
    k = env.kafka
    lines = [f"bootstrap.servers = {listener}", f"sasl.mechanism = {mechanism}",
             "sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule "
             f'required username="{k.SASL_USER}" password="{password}";',
             "key.serializer = org.apache.kafka.common.serialization.StringSerializer"]
    if listener == k.ssl_bootstrap:
        import shutil
        shutil.copy(k.ca_pem, env.tmp / "ca.pem")
        lines += ["security.protocol = SASL_SSL", "ssl.truststore.type = PEM",
                  "ssl.truststore.location = ca.pem",
                  "ssl.endpoint.identification.algorithm = https"]
    else:
        lines += ["security.protocol = SASL_PLAINTEXT"]
    env.props.write_text("\n".join(lines) + "\n")


def test_scram_sha512_over_tls_delivers_and_verifies(env):
    env.load(500)
    sasl_properties(env, env.kafka.ssl_bootstrap, "SCRAM-SHA-512", env.kafka.SASL_PASSWORD)
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert env.kafka.SASL_PASSWORD not in p.stdout + p.stderr
    _, rep = env.run("--count", "300", "--rate", "0", check_exit=0)
    assert rep["posts_delivered"] == 300
    verify(env, 300)


def test_scram_sha256_plaintext_delivers(env):
    env.load(100)
    sasl_properties(env, env.kafka.sasl_bootstrap, "SCRAM-SHA-256", env.kafka.SASL_PASSWORD)
    _, rep = env.run("--count", "50", "--rate", "0", check_exit=0)
    verify(env, 50)


def test_wrong_kafka_password_is_a_configuration_error(env):
    env.load(20)
    sasl_properties(env, env.kafka.ssl_bootstrap, "SCRAM-SHA-512", "Wrong-Kafka-Pw")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 78, p.stdout + p.stderr
    assert "authentication" in p.stdout.lower()
    assert "Wrong-Kafka-Pw" not in p.stdout + p.stderr
    run, _ = env.run("--count", "5", "--rate", "0", timeout=120)
    assert run.returncode == 78, run.stderr[-2000:]
    assert "rejected our credentials" in run.stderr
