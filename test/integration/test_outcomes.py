"""What the run report says became of posts and messages, checked against what the real
broker holds: aborted transactions are not deliveries, possibly persisted posts are
`unknown` (never `failed`), latency percentiles cover deliveries only, and topic checks
never make an auto-creating broker create the topics with its defaults."""

import json
import os
import re
import signal
import subprocess
import time

from conftest import PINPOSTD, consume_all, group_posts

TABLES = ("pin", "geo", "user")


def wait_for(what, probe, timeout, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def instance_messages(env, committed=True):
    """{table: number of messages of this run's instance} in the topics now."""
    msgs = consume_all(env.kafka.bootstrap, env.topics, committed=committed)
    return {t: sum(1 for m in msgs[t] if m[1].get("pinpostd.instance") == env.instance)
            for t in TABLES}, msgs


def finish(proc, timeout):
    """Wait for pinpostd; SIGTERM it (then SIGKILL) if it does not stop by itself."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def use_new_topics(env, extra_kafka):
    """Topic names nobody has created yet."""
    env.prefix = env.prefix + "x"
    env.topics = {t: f"{env.prefix}.{t}" for t in TABLES}
    env.write_config(extra_kafka=extra_kafka)


def cluster_topics(env):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": env.kafka.bootstrap, "log_level": 0})
    return admin.list_topics(timeout=30).topics


def test_exactly_once_aborted_transaction_is_not_counted_delivered(env):
    from confluent_kafka import Producer
    env.load(500)
    txid = f"tx-{env.prefix}"
    env.write_config(extra_kafka=f"  delivery: exactly_once\n  transactional_id: {txid}\n"
                                 "  transaction_interval: 3\n")
    log = open(env.tmp / "stderr.log", "w+")
    report = env.tmp / "eos.json"
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--report", str(report),
                             "--rate", "50", "--seed", "8"],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        # Fence pinpostd once a transaction committed and the open one holds delivered
        # messages: the fencing producer's init_transactions aborts that transaction.
        def open_txn_has_deliveries():
            committed, _ = instance_messages(env)
            written, _ = instance_messages(env, committed=False)
            return sum(committed.values()) > 0 and sum(written.values()) > sum(committed.values())
        wait_for("a committed and an open transaction", open_txn_has_deliveries, 90)
        fencer = Producer({"bootstrap.servers": env.kafka.bootstrap, "transactional.id": txid,
                           "log_level": 0})
        fencer.init_transactions(60)
        status = finish(proc, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.seek(0)
    err = log.read()
    assert status == 1, err[-3000:]
    rep = json.loads(report.read_text())
    committed, msgs = instance_messages(env)
    written, _ = instance_messages(env, committed=False)
    posts = group_posts(msgs, env.instance)
    assert sum(written.values()) > sum(committed.values()), "no transaction was aborted"
    for t in TABLES:
        pt = rep["per_topic"][t]
        assert pt["messages_delivered"] == committed[t], \
            f"{t}: report says {pt['messages_delivered']} delivered, Kafka committed {committed[t]}"
        # Every message written in the aborted transaction counts as failed.
        assert pt["messages_failed"] >= written[t] - committed[t]
    assert rep["messages_delivered"] == sum(committed.values())
    assert rep["posts_delivered"] == len(posts)
    assert rep["posts_failed"] > 0
    assert rep["posts_in_flight"] == 0
    print(f"exactly_once fenced: {sum(written.values())} messages written, "
          f"{sum(committed.values())} committed = reported delivered "
          f"{rep['messages_delivered']}; posts failed {rep['posts_failed']}")


def test_frozen_broker_possibly_persisted_posts_are_unknown_not_failed(env):
    env.load(1000)
    # Long batches (linger.ms), so that the requests in flight when the broker stops carry
    # many posts.
    env.write_config(extra_kafka="  settings:\n    linger.ms: 100\n"
                                 "    message.timeout.ms: 1500\n    request.timeout.ms: 1200\n")
    log = open(env.tmp / "stderr.log", "w+")
    report = env.tmp / "freeze.json"
    proc = subprocess.Popen([PINPOSTD, "-c", str(env.config), "--report", str(report),
                             "--rate", "50", "--seed", "9", "--duration", "120"],
                            stdout=subprocess.DEVNULL, stderr=log)
    pid = env.kafka.proc.pid
    try:
        def delivering():
            text = open(env.tmp / "stderr.log").read()
            assert proc.poll() is None, text[-3000:]
            return any(int(n) > 0 for n in re.findall(r"posts delivered (\d+)", text))
        wait_for("first deliveries", delivering, 60)
        # Requests sent while the broker is stopped wait in its socket buffer: the client
        # times them out, the broker persists them once it runs again.
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(8)
            # Stop sampling before the broker is back: most posts of the run are the ones
            # that timed out during the freeze.
            proc.send_signal(signal.SIGTERM)
        finally:
            os.kill(pid, signal.SIGCONT)
        status = finish(proc, 120)
    finally:
        os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    log.seek(0)
    err = log.read()
    assert status == 1, err[-3000:]
    rep = json.loads(report.read_text())
    present, msgs = instance_messages(env)
    posts = group_posts(msgs, env.instance)
    assert rep["posts_in_flight"] == 0
    assert rep["posts_delivered"] + rep["posts_failed"] + rep["posts_unknown"] == \
        rep["posts_sampled"]
    assert rep["posts_failed"] > 0, "the freeze failed nothing: no test"
    assert rep["posts_unknown"] > 0, err[-3000:]
    # Failed messages are absent; only unknown ones may be present.
    for t in TABLES:
        pt = rep["per_topic"][t]
        assert pt["messages_delivered"] <= present[t] <= \
            pt["messages_delivered"] + pt["messages_unknown"], \
            f"{t}: {present[t]} in Kafka, report {pt}"
    # A post counted failed is absent as a whole, not even partly present.
    assert rep["posts_delivered"] <= len(posts) <= rep["posts_delivered"] + rep["posts_unknown"]
    # Percentiles are over delivered messages; the failures (all older than
    # message.timeout.ms, and more numerous than the deliveries) are counted apart.
    assert rep["messages_failed"] + rep["messages_unknown"] > rep["messages_delivered"]
    assert rep["latency_ms"]["p50"] < 1000, rep["latency_ms"]
    print(f"frozen broker: delivered {rep['posts_delivered']}, failed {rep['posts_failed']}, "
          f"unknown {rep['posts_unknown']}, in Kafka {len(posts)} posts; "
          f"latency p50 {rep['latency_ms']['p50']} ms")


def test_create_topics_gets_the_requested_partitions_on_an_auto_creating_cluster(env):
    env.load(50)
    # The test broker has auto.create.topics.enable=true and num.partitions=3.
    use_new_topics(env, "  create_topics: true\n  partitions: 7\n  replication_factor: 1\n")
    p, rep = env.run("--count", "20", "--rate", "0")
    assert p.returncode == 0, p.stderr[-3000:]
    topics = cluster_topics(env)
    for topic in env.topics.values():
        assert len(topics[topic].partitions) == 7, \
            f"{topic}: {len(topics[topic].partitions)} partitions, asked for 7"
    assert rep["posts_delivered"] == 20


def test_check_does_not_create_topics_and_says_the_cluster_will(env):
    env.load(10)
    use_new_topics(env, "")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    for topic in env.topics.values():
        assert f"topic {topic}: does not exist yet; the cluster creates it" in p.stdout, p.stdout
    assert "auto.create.topics.enable=true" in p.stdout
    topics = cluster_topics(env)
    created = [t for t in env.topics.values() if t in topics]
    assert not created, f"--check created {created}"


def test_existing_topic_with_other_partitions_than_requested_is_named(env):
    env.load(10)
    # The harness made the topics with 3 partitions.
    env.write_config(extra_kafka="  create_topics: true\n  partitions: 7\n")
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"topic {env.topics['pin']} exists with 3 partition(s)" in p.stdout, p.stdout
    assert "kafka.partitions 7" in p.stdout
    p, _ = env.run("--count", "5", "--rate", "0")
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"topic {env.topics['geo']} exists with 3 partition(s)" in p.stderr
    assert len(cluster_topics(env)[env.topics["geo"]].partitions) == 3
