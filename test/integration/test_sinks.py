"""Kafka and Kinesis fed at once (a real broker and moto on loopback): the runner counts
each post once, each sink counts its own messages, and the report, the summary line and the
metrics give each sink its own section. Before the sinks kept their own counters, both
wrote one shared set: 100 posts reported 600 messages delivered and 200 on the pin topic,
with one latency histogram mixing the two sinks."""

import json
import re

from aws_stubs import ThrottlingKinesisProxy
from conftest import verify
from test_kinesis import REGION, aws_env, create_streams, moto, stream_contents  # noqa: F401


def both_sinks(env, endpoint, metrics=None, extra="", drain=60):
    env.write_config(
        flush_timeout=drain,
        extra=(f"  metrics_file: {metrics}\n" if metrics else "") +
        f"kinesis:\n  enabled: true\n  region: {REGION}\n  endpoint: {endpoint}\n"
        "  linger: 0.02\n  max_requests: 1\n" + extra)


def metric(text, name, **labels):
    """The value of the series `name` whose labels include `labels`."""
    for line in text.splitlines():
        m = re.match(r"(\w+)\{(.*)\} (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    raise AssertionError(f"no {name} {labels} in the metrics")


def test_each_post_counted_once_and_each_sink_its_own_messages(env, moto):
    env.load(100)
    names = create_streams(moto, env)
    metrics = env.tmp / "pinpostd.prom"
    both_sinks(env, moto.endpoint, metrics)
    p, rep = env.run("--count", "100", "--rate", "0", "--seed", "4", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    # Posts are the runner's: each once, though two sinks settled it.
    assert rep["posts_sampled"] == 100 and rep["posts_delivered"] == 100
    assert rep["posts_failed"] == 0 and rep["posts_unknown"] == 0
    # The stable top-level fields describe the first sink, Kafka, as with Kafka alone.
    assert rep["messages_delivered"] == 300
    assert rep["messages_failed"] == 0 and rep["messages_unknown"] == 0
    assert {t: rep["per_topic"][t]["messages_delivered"] for t in names} == \
        {"pin": 100, "geo": 100, "user": 100}
    assert {t: rep["per_topic"][t]["topic"] for t in names} == env.topics
    # Each sink its own section, with its own destinations and its own histogram.
    assert set(rep["sinks"]) == {"kafka", "kinesis"}
    for sink, dest in (("kafka", env.topics), ("kinesis", names)):
        s = rep["sinks"][sink]
        assert s["messages_delivered"] == 300, sink
        assert s["messages_failed"] == 0 and s["messages_unknown"] == 0, sink
        assert s["latency_ms"]["count"] == 300, sink
        assert {t: s["per_topic"][t]["messages_delivered"] for t in names} == \
            {"pin": 100, "geo": 100, "user": 100}, sink
        assert {t: s["per_topic"][t]["topic"] for t in names} == dest, sink
    kafka_bytes = rep["sinks"]["kafka"]["bytes_delivered"]
    assert kafka_bytes == rep["sinks"]["kinesis"]["bytes_delivered"] == rep["bytes_delivered"]
    assert rep["latency_ms"] == rep["sinks"]["kafka"]["latency_ms"]
    # What the report says went out did: 100 whole posts on each side.
    verify(env, 100)
    assert all(sum(c.values()) == 100 for c in stream_contents(moto, names).values())
    # The summary line: the first sink's messages, then the other's, named.
    finished = next(line for line in p.stderr.splitlines() if " finished: " in line)
    assert "posts delivered 100 " in finished and "; messages 300, " in finished, finished
    assert "; kinesis: messages 300, " in finished, finished
    # The metrics: one series per sink and table; one histogram per sink.
    prom = metrics.read_text()
    inst = {"instance": env.instance}
    for sink, dest in (("kafka", env.topics), ("kinesis", names)):
        assert metric(prom, "pinpostd_messages_delivered_total", **inst, sink=sink, table="pin",
                      topic=dest["pin"]) == 100
        assert metric(prom, "pinpostd_delivery_latency_seconds_count", **inst, sink=sink) == 300
        assert metric(prom, "pinpostd_delivery_latency_seconds_bucket", **inst, sink=sink,
                      le="+Inf") == 300
    assert metric(prom, "pinpostd_posts_delivered_total", **inst) == 100


def test_kafka_counts_only_its_own_messages_when_kinesis_refuses_everything(env, moto):
    """Kinesis turns every record away; Kafka takes every post. At shutdown the drain gives
    up after service.drain_timeout: every post is unknown (Kafka holds it, Kinesis does
    not), Kafka's section shows its 60 deliveries and nothing pending or failed, and the 60
    Kinesis records that never got in are Kinesis's failures alone."""
    env.load(30)
    names = create_streams(moto, env)
    proxy = ThrottlingKinesisProxy(moto.endpoint, reject=1.0)
    try:
        both_sinks(env, proxy.endpoint, extra="  record_timeout: 600\n", drain=4)
        p, rep = env.run("--count", "20", "--rate", "0", "--seed", "9", env=aws_env(),
                         timeout=120)
    finally:
        proxy.close()
    assert p.returncode == 1, p.stderr[-3000:]
    assert "20 post(s) still undelivered after " in p.stderr
    assert rep["posts_sampled"] == 20
    assert rep["posts_unknown"] == 20 and rep["posts_failed"] == 0
    assert rep["posts_delivered"] == 0 and rep["posts_in_flight"] == 0
    # The top level is Kafka's: no Kinesis failure is counted there.
    assert rep["messages_delivered"] == 60 and rep["messages_failed"] == 0
    assert rep["messages_unknown"] == 0
    kafka, kinesis = rep["sinks"]["kafka"], rep["sinks"]["kinesis"]
    assert kafka["messages_delivered"] == 60
    assert kafka["messages_failed"] == 0 and kafka["messages_unknown"] == 0
    assert kafka["latency_ms"]["count"] == 60
    # Kafka's deliveries took milliseconds; none waited for the Kinesis drain (4 s).
    assert kafka["latency_ms"]["max"] < 3000, kafka["latency_ms"]
    assert kinesis["messages_delivered"] == 0 and kinesis["latency_ms"]["count"] == 0
    assert kinesis["messages_failed"] + kinesis["messages_unknown"] == 60
    assert all(not sum(c.values()) for c in stream_contents(moto, names).values())
    verify(env, 20)  # Kafka has every post, whole and once
