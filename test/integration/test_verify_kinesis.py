"""pinpost-verify --kinesis against moto's server on loopback: a run to Kinesis (and one to
both sinks) is proved whole and once from the three streams, and records written by the
test itself (removed, duplicated, foreign, changed) are each found. The records carry the
run's identity in their partition key, KEY:SEQ:INSTANCE (include/core/pp_contract.h); the
tests also check that form independently of the verifier, with boto3."""

import json
import subprocess
import time

from aws_stubs import ThrottlingKinesisProxy, clean_aws_env
from conftest import PINPOST_VERIFY, PINPOSTD
from test_kinesis import REGION, aws_env, client, create_streams, kinesis_config, moto, read_stream  # noqa: F401 (moto: a fixture)

TABLES = ("pin", "geo", "user")
KEY_COLUMN = {"pin": "index", "geo": "ind", "user": "ind"}


def verify_kinesis(env, *args, child_env=None, timeout=30):
    p = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--kinesis", "--json",
                        "--timeout", str(timeout), *args],
                       capture_output=True, text=True, timeout=300,
                       env=child_env or aws_env())
    result = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else None
    return p, result


def newest_report(env):
    return str(max(env.tmp.glob("report-*.json"), key=lambda f: f.stat().st_mtime))


def posts_in_streams(moto, names, instance):
    """{seq: {table: (key, value, shard id)}} from the streams, read with boto3, every
    partition key parsed as KEY:SEQ:INSTANCE. Fails on a record of another form."""
    posts = {}
    for t, name in names.items():
        for pk, data, shard in read_stream(moto, name):
            key, seq, inst = pk.split(":", 2)
            assert inst == instance, pk
            slot = posts.setdefault(int(seq), {})
            assert t not in slot, f"{t} seq {seq} twice"
            slot[t] = (int(key), json.loads(data), shard)
    return posts


def test_a_kinesis_run_is_verified_whole_and_once_with_rows(env, moto):
    env.load(300)
    names = create_streams(moto, env)
    kinesis_config(env, moto.endpoint)
    p, rep = env.run("--count", "600", "--rate", "0", "--seed", "21", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    assert rep["posts_delivered"] == 600

    # The contract, checked without pinpost-verify: each record's partition key names its
    # post's key, sequence number and this instance; the three records of a post agree on
    # the key, which is the row's, and land on the same shard number.
    posts = posts_in_streams(moto, names, env.instance)
    assert sorted(posts) == list(range(1, 601))
    for seq, post in posts.items():
        assert sorted(post) == sorted(TABLES), seq
        assert len({post[t][0] for t in TABLES}) == 1
        assert all(post[t][1][KEY_COLUMN[t]] == post[t][0] for t in TABLES)
        assert len({post[t][2] for t in TABLES}) == 1, f"seq {seq}: shards differ"

    p, r = verify_kinesis(env, "--run-report", newest_report(env), "--rows", "-vv")
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout
    assert r["result"] == "verified"
    assert r["instance"] == env.instance
    assert r["posts_complete"] == 600
    assert r["messages"] == 1800 and r["messages_other"] == 0
    assert r["posts_partial"] == r["posts_missing"] == r["duplicates"] == 0
    assert r["key_mismatch"] == r["partition_mismatch"] == 0
    assert r["rows_checked"] == 1800 and r["rows_mismatched"] == 0
    assert "kinesis-test-secret" not in p.stdout + p.stderr


def test_a_run_to_both_sinks_verifies_on_each(env, moto):
    env.load(300)
    create_streams(moto, env)
    kinesis_config(env, moto.endpoint, kafka=True)
    p, rep = env.run("--count", "400", "--rate", "0", "--seed", "33", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    assert rep["posts_delivered"] == 400
    report = newest_report(env)
    kafka = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--json", "--timeout", "30",
                            "--run-report", report, "--rows"],
                           capture_output=True, text=True, timeout=300, env=aws_env())
    assert kafka.returncode == 0, kafka.stderr[-3000:] + kafka.stdout
    rk = json.loads(kafka.stdout.splitlines()[-1])
    p, r = verify_kinesis(env, "--run-report", report, "--rows")
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout
    for result in (rk, r):
        assert result["result"] == "verified"
        assert result["posts_complete"] == 400 and result["messages"] == 1200
        assert result["rows_checked"] == 1200 and result["rows_mismatched"] == 0


def dry_run(env, count, seed):
    """The messages a run of this seed sends: [(table, key, seq, raw value text)]."""
    p = subprocess.run([PINPOSTD, "-c", str(env.config), "--dry-run", "--count", str(count),
                        "--rate", "0", "--seed", str(seed), "-q"], capture_output=True,
                       text=True, timeout=120, env=aws_env())
    assert p.returncode == 0, p.stderr
    out = []
    for line in p.stdout.splitlines():
        m = json.loads(line)
        raw = line[line.index('"value":') + len('"value":'):-1]
        assert json.loads(raw) == m["value"]
        table = next(t for t in TABLES if m["topic"].endswith(t))
        out.append((table, m["key"], int(m["headers"]["pinpostd.seq"]), raw))
    return out


def put(kc, name, records):
    for i in range(0, len(records), 500):
        r = kc.put_records(StreamName=name, Records=records[i:i + 500])
        assert r["FailedRecordCount"] == 0


def test_injected_faults_are_each_found(env, moto):
    env.load(200)
    msgs = dry_run(env, 20, 8)
    names = create_streams(moto, env)
    kinesis_config(env, moto.endpoint)
    records = {t: [] for t in TABLES}
    for table, key, seq, raw in msgs:
        if seq == 5 and table == "user":
            continue                                   # partial post
        if seq == 7:
            continue                                   # missing post
        if seq == 9 and table == "geo":
            value = json.loads(raw)
            value["country"] = "Atlantis"              # not its row any more
            raw = json.dumps(value)
        rec = {"Data": raw.encode(), "PartitionKey": f"{key}:{seq}:{env.instance}"}
        records[table].append(rec)
        if seq == 3 and table == "user":
            records[table].append(rec)                 # duplicate record
    records["pin"].append({"Data": b"{}", "PartitionKey": "123"})             # bare key
    records["geo"].append({"Data": b"{}", "PartitionKey": "7:1:someone-else"})  # other instance
    kc = client(moto)
    for t in TABLES:
        put(kc, names[t], records[t])

    p, r = verify_kinesis(env, "--instance", env.instance, "--expect", "20", "--rows")
    assert p.returncode == 1, p.stderr[-3000:] + p.stdout
    assert r["result"] == "problems"
    assert r["posts_complete"] == 18  # 20 minus the partial and the missing
    assert r["posts_partial"] == 1
    assert r["posts_missing"] == 1
    assert r["duplicates"] == 1
    assert r["messages_other"] == 2
    assert r["rows_mismatched"] == 1
    assert "Atlantis" not in p.stderr and "country" in p.stderr

    human = subprocess.run([PINPOST_VERIFY, "-c", str(env.config), "--kinesis", "--instance",
                            env.instance, "--expect", "20"], capture_output=True, text=True,
                           timeout=120, env=aws_env())
    assert human.returncode == 1, human.stderr
    assert "seq 5 key" in human.stdout and "seq 7: missing" in human.stdout
    assert "RESULT: PROBLEMS FOUND" in human.stdout


def test_since_skips_an_earlier_run_of_the_same_instance(env, moto):
    """--run-report reads from the run's start (AT_TIMESTAMP): an earlier run of the same
    instance, numbered 1..50 too, is not taken for duplicates."""
    env.load(200)
    create_streams(moto, env)
    kinesis_config(env, moto.endpoint)
    p, _ = env.run("--count", "50", "--rate", "0", "--seed", "1", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    time.sleep(1.5)
    p, rep = env.run("--count", "60", "--rate", "0", "--seed", "2", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    p, r = verify_kinesis(env, "--run-report", newest_report(env))
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout
    assert r["posts_complete"] == 60 and r["messages"] == 180 and r["duplicates"] == 0
    # From the beginning of the streams, the first run's records are duplicates.
    p, r = verify_kinesis(env, "--instance", env.instance, "--expect", "60")
    assert p.returncode == 1, p.stderr[-3000:] + p.stdout
    assert r["duplicates"] == 150 and r["messages"] == 330


def test_paged_throttled_failed_and_expired_reads_lose_nothing(env, moto):
    """Answers of 7 records and 1 shard at a time; throttled and failing calls, and every
    fourth GetRecords call finding its iterator expired (the reader goes on after the last
    record it read): every record is read once."""
    env.load(100)
    create_streams(moto, env)
    kinesis_config(env, moto.endpoint)
    p, rep = env.run("--count", "100", "--rate", "0", "--seed", "4", env=aws_env())
    assert p.returncode == 0, p.stderr[-3000:]
    proxy = ThrottlingKinesisProxy(moto.endpoint, read_throttles=3, read_failures=2,
                                   expire_every=4, read_limit=7, list_limit=1)
    try:
        kinesis_config(env, proxy.endpoint)
        p, r = verify_kinesis(env, "--run-report", newest_report(env))
    finally:
        proxy.close()
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout
    assert r["posts_complete"] == 100 and r["messages"] == 300 and r["duplicates"] == 0
    assert proxy.refused["ListShards"] == proxy.refused["GetShardIterator"] == 2
    assert proxy.targets["ListShards"] >= 2 + 3 * 2  # a page per shard, 2 shards a stream
    # 300 records, at most 7 an answer, and every fourth call refused as expired.
    assert proxy.targets["GetRecords"] >= 3 + (300 // 7) * 4 // 3
    assert proxy.refused["GetRecords"] >= 3 + 10


def test_a_missing_stream_cannot_be_verified(env, moto):
    names = create_streams(moto, env)
    client(moto).delete_stream(StreamName=names["user"])
    kinesis_config(env, moto.endpoint)
    p, r = verify_kinesis(env)
    assert p.returncode == 2, p.stderr[-3000:] + p.stdout  # could not verify
    assert r is None
    assert (f"Kinesis stream {names['user']} (user): ListShards: ResourceNotFoundException"
            in p.stderr)
    assert f"does not exist in {REGION} at {moto.endpoint}/" in p.stderr
    assert "check kinesis.streams.user" in p.stderr


def test_an_unreachable_endpoint_gives_up_after_the_timeout(env):
    kinesis_config(env, "http://127.0.0.1:1")
    t0 = time.monotonic()
    p, _ = verify_kinesis(env, timeout=3)
    assert p.returncode == 2, p.stderr
    assert time.monotonic() - t0 < 20
    assert "ListShards: gave up after" in p.stderr and "(--timeout)" in p.stderr
    assert "http://127.0.0.1:1/" in p.stderr


def test_no_region_is_a_configuration_error(env):
    env.write_config(extra_kafka="  enabled: false\n", extra="kinesis:\n  enabled: true\n")
    p, _ = verify_kinesis(env, child_env=clean_aws_env(AWS_ACCESS_KEY_ID="x",
                                                       AWS_SECRET_ACCESS_KEY="y"))
    assert p.returncode == 78, p.stderr
    assert "no AWS region for Kinesis: set kinesis.region (or AWS_REGION)" in p.stderr
