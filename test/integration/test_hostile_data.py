"""pinpostd against hostile data (hostile.py): control bytes, escape sequences, NUL,
invalid UTF-8 and 10 MB texts pass through unchanged; keys at the ends of the 64-bit
range; BIGINT UNSIGNED keys above 2^63 refused; case-insensitive column names; a single
row; almost and entirely orphaned posts; a stop request while MariaDB is frozen."""

import json
import os
import signal
import subprocess
import time

import pytest

import hostile
from conftest import PINPOSTD, StderrLog, assert_value_matches, verify


def check_rows(env, posts):
    """Every message value equals its row as read independently (hostile.read_rows)."""
    keys = {int(p["pin"][0]) for p in posts.values()}
    rows = hostile.read_rows(env, keys)
    for seq, p in posts.items():
        key = int(p["pin"][0])
        for table in ("pin", "geo", "user"):
            assert key in rows[table], f"post {seq}: key {key} has no {table} row"
            names, row = rows[table][key]
            assert_value_matches(table, p[table][1], names, row)
    return keys


# ---- texts ----

@pytest.mark.parametrize("text_type", ["LONGTEXT", "LONGBLOB"])
def test_control_bytes_escapes_and_invalid_utf8_pass_through(env, text_type):
    texts = hostile.hostile_texts(env, text_type=text_type)
    _, rep = env.run("--count", "400", "--rate", "0", "--seed", "11", check_exit=0)
    assert rep["posts_delivered"] == 400
    posts = verify(env, 400, check_rows=False)
    keys = check_rows(env, posts)
    assert keys == set(texts), f"keys never sampled: {sorted(set(texts) - keys)}"
    # Each invalid byte is one U+FFFD and counted, in every text column of the post;
    # valid text (none of which holds U+FFFD itself) is never counted.
    columns = sum(len(c) for c in hostile.TEXT_COLUMNS.values())
    expected = sum(hostile.expected_text(texts[int(p["pin"][0])]).count("\ufffd") * columns
                   for p in posts.values()) if text_type == "LONGBLOB" else 0
    assert rep["invalid_utf8_replaced"] == expected


def test_ten_megabyte_texts_pass_through(env):
    key = hostile.big_texts(env)
    # Messages of ~13 MB: the topics and the producer must allow them.
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
    admin = AdminClient({"bootstrap.servers": env.kafka.bootstrap, "log_level": 0})
    big = [ConfigEntry("max.message.bytes", "67108864",
                       incremental_operation=AlterConfigOpType.SET)]
    for f in admin.incremental_alter_configs(
            [ConfigResource("topic", t, incremental_configs=big) for t in env.topics.values()]).values():
        f.result(30)
    env.write_config(extra_kafka="  settings:\n    message.max.bytes: 67108864\n")
    _, rep = env.run("--count", "2", "--rate", "0", "--seed", "1", check_exit=0)
    assert rep["posts_delivered"] == 2
    posts = verify(env, 2, check_rows=False)
    assert check_rows(env, posts) == {key}
    assert all(len(p["pin"][1]["description"].encode()) >= 10 * 1024 * 1024 - 4
               for p in posts.values())


# ---- keys ----

def test_keys_at_the_ends_of_the_int64_range(env):
    keys = hostile.edge_keys(env)
    _, rep = env.run("--count", "60", "--rate", "0", "--seed", "5", check_exit=0)
    assert rep["posts_delivered"] == 60
    posts = verify(env, 60, check_rows=False)
    assert check_rows(env, posts) == set(keys)
    # The key is the decimal string on all three topics, the value's key column the
    # exact integer.
    for p in posts.values():
        assert p["pin"][0] == str(p["pin"][1]["index"]) == str(p["geo"][1]["ind"]) \
            == str(p["user"][1]["ind"])


def test_bigint_unsigned_keys_below_2_63_are_sampled(env):
    keys = hostile.edge_keys(env, keys=(0, 1, hostile.INT64_MAX), key_type="BIGINT UNSIGNED")
    _, rep = env.run("--count", "40", "--rate", "0", "--seed", "5", check_exit=0)
    posts = verify(env, 40, check_rows=False)
    assert check_rows(env, posts) == set(keys)


def test_bigint_unsigned_key_above_2_63_is_refused_at_start(env):
    hostile.edge_keys(env, keys=(1, 2, 2 ** 63, hostile.UINT64_MAX), key_type="BIGINT UNSIGNED")
    p, _ = env.run("--count", "5", "--rate", "0", "--seed", "5", timeout=120)
    assert p.returncode == 78, p.stderr[-3000:]
    assert "source.tables.pin.key" in p.stderr
    assert "above 9223372036854775807" in p.stderr
    assert "BIGINT UNSIGNED" in p.stderr and "below 2^63" in p.stderr
    from conftest import consume_all
    assert not any(consume_all(env.kafka.bootstrap, env.topics).values())


def test_key_column_named_in_another_case(env):
    env.load(50)
    env.write_config(extra_source="  tables:\n    pin: {key: INDEX}\n    geo: {key: IND}\n"
                                  "    user: {key: Ind}\n")
    _, rep = env.run("--count", "30", "--rate", "0", "--seed", "9", check_exit=0)
    # The messages keep the table's own column names.
    posts = verify(env, 30)
    assert all("index" in p["pin"][1] and "ind" in p["geo"][1] for p in posts.values())


def test_single_row_table_delivers_every_post_with_its_key(env):
    key = hostile.single_row(env, key=42)
    _, rep = env.run("--count", "25", "--rate", "0", "--seed", "3", check_exit=0)
    assert rep["posts_delivered"] == 25
    posts = verify(env, 25, check_rows=False)
    assert check_rows(env, posts) == {key}
    assert {p[t][0] for p in posts.values() for t in p} == {"42"}


# ---- orphans ----

def test_99_9_percent_orphaned_delivers_count_and_ends(env):
    whole = hostile.mostly_orphaned(env, posts=10000, every=1000)
    _, rep = env.run("--count", "20", "--rate", "0", "--seed", "8", timeout=180, check_exit=0)
    assert rep["posts_delivered"] == 20
    assert rep["posts_unmatched"] > 0
    posts = verify(env, 20, check_rows=False)
    assert check_rows(env, posts) <= set(whole)


# The sampler hands control back to the main loop after every fetch whose posts are all
# unmatched, so SIGTERM is served; a warning names the table lacking rows.
def test_all_orphaned_dry_run_stops_on_sigterm_and_names_the_table(env):
    lacking = hostile.all_orphaned(env, posts=200, lacking="user")
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", "5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = StderrLog(proc)
    try:
        warned = log.wait_for(rf"warning: .*\b{lacking}\b", 30)
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - t0
        assert proc.poll() is not None and took < 5, f"still running {took:.1f} s after SIGTERM"
        assert warned, f"no warning naming {lacking}:\n{log.text()[-3000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- a frozen database ----

def test_stop_while_mariadb_is_frozen_takes_seconds(env):
    env.load(100)
    proc, report = env.popen("--rate", "5", "--seed", "4")
    log = StderrLog(proc)
    took = None
    try:
        # Per-post lines at 5 posts/s: the loop runs, one round trip per table per post.
        assert log.wait_for(r"post \d+ seq \d+ delivered", 60), log.text()[-3000:]
        os.kill(env.db.proc.pid, signal.SIGSTOP)
        try:
            # A fetch is due every 0.2 s: within a second the loop waits on the server.
            time.sleep(1)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
            took = time.monotonic() - t0
        finally:
            os.kill(env.db.proc.pid, signal.SIGCONT)
        print(f"stop took {took:.2f} s while MariaDB was frozen")
        assert proc.poll() is not None and took < 5, \
            f"stop took {took:.1f} s while MariaDB was frozen\n{log.text()[-3000:]}"
        assert proc.returncode == 0, log.text()[-3000:]
        rep = json.loads(report.read_text())
        # Everything sampled before the stop was delivered, whole.
        verify(env, rep["posts_sampled"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
