"""Fixtures of the integration tier: one MariaDB and one Kafka broker per test session,
a fresh database and topic prefix per test, and helpers to run pinpostd and read the
topics back with an independent consumer."""

import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from servers import Kafka, MariaDB

# Files the tests write hold test secrets; pinpostd refuses secrets files that others may
# write, whatever umask the machine runs with.
os.umask(0o077)

BUILD = os.environ.get("PINPOSTD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
# The programs under test: make test points this at the ASan/UBSan builds.
BIN = os.environ.get("PINPOSTD_BIN", BUILD)
PINPOSTD = os.path.join(BIN, "pinpostd")
PINPOST_GEN = os.path.join(BIN, "pinpost-gen")
PINPOST_VERIFY = os.path.join(BIN, "pinpost-verify")
# The optimised build, for valgrind (which cannot run sanitizer builds).
PINPOSTD_PLAIN = os.path.join(BUILD, "pinpostd")
VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=9"]
KAFKA_LIBS = os.environ.get("KAFKA_LIBS", os.path.join(BUILD, "kafka/libs"))


SANITIZER_LOGS = os.environ.get("SANITIZER_LOGS")


def pytest_sessionfinish(session, exitstatus):
    """Under make test the programs are ASan/UBSan builds writing reports to
    SANITIZER_LOGS: any report fails the tier, whatever the tests asserted."""
    if not SANITIZER_LOGS:
        print("\nSANITIZERS: NOT CHECKED (SANITIZER_LOGS unset: plain builds under test)")
        return
    reports = sorted(os.listdir(SANITIZER_LOGS)) if os.path.isdir(SANITIZER_LOGS) else []
    if reports:
        for name in reports:
            print(f"\n==== sanitizer report {name} ====")
            print(open(os.path.join(SANITIZER_LOGS, name), errors="replace").read()[-6000:])
        session.exitstatus = 1
    else:
        print(f"\nSANITIZERS: no ASan/UBSan/LSan report from {BIN}")


@pytest.fixture
def open_dir():
    """A directory everybody can enter (/tmp is; pytest's tmp_path is under a 0700 one)."""
    d = tempfile.mkdtemp(prefix="pinpostd-open-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def sanitizer_logs_as(env, directory, uid, gid):
    """For a program under test run as another user: its sanitizer reports go to directory
    (made here, owned by uid:gid), since the tier's SANITIZER_LOGS is not that user's to
    write. Rewrites env's ASAN_OPTIONS/UBSAN_OPTIONS in place; returns a function that
    asserts no report arrived (call it after the run)."""
    os.makedirs(directory, exist_ok=True)
    os.chown(directory, uid, gid)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if var in env:
            env[var] = re.sub(r"log_path=[^:]*/", f"log_path={directory}/", env[var])

    def check():
        reports = os.listdir(directory)
        assert not reports, [open(os.path.join(directory, r), errors="replace").read()[-3000:]
                             for r in reports]
    return check


@pytest.fixture(scope="session")
def mariadb():
    db = MariaDB()
    try:
        db.start()
        yield db
    finally:
        db.destroy()


@pytest.fixture(scope="session")
def kafka():
    if not os.path.isdir(KAFKA_LIBS):
        pytest.fail(f"Kafka jars missing in {KAFKA_LIBS}: run `make kafka-jars`")
    k = Kafka(KAFKA_LIBS)
    try:
        k.start()
        yield k
    finally:
        k.destroy()


class Env:
    """One test's world: its own database, topic prefix, instance name and config files."""

    def __init__(self, tmp_path, mariadb, kafka):
        self.tmp = tmp_path
        self.db = mariadb
        self.kafka = kafka
        tag = uuid.uuid4().hex[:10]
        self.database = f"pp_{tag}"
        self.prefix = f"t{tag}"
        self.instance = f"it-{tag}"
        self.topics = {t: f"{self.prefix}.{t}" for t in ("pin", "geo", "user")}
        mariadb.create_database(self.database)
        kafka.create_topics(list(self.topics.values()))
        self.creds = tmp_path / "db_creds.yaml"
        self.creds.write_text(
            f"RDS_HOST: 127.0.0.1\nRDS_PASSWORD: {MariaDB.PASSWORD}\nRDS_USER: {MariaDB.USER}\n"
            f"RDS_DATABASE: {self.database}\nRDS_PORT: {mariadb.port}\n")
        self.props = tmp_path / "client.properties"
        self.props.write_text(f"# written by the test harness\nbootstrap.servers = {kafka.bootstrap}\n")
        self.config = tmp_path / "pinpostd.yaml"
        self.write_config()

    def write_config(self, extra_source="", extra_kafka="", extra="", flush_timeout=60):
        self.config.write_text(
            "source:\n  credentials: db_creds.yaml\n" + extra_source +
            f"kafka:\n  properties: client.properties\n  topic_prefix: {self.prefix}\n"
            f"  flush_timeout: {flush_timeout}\n" + extra_kafka +
            f"service:\n  instance: {self.instance}\n  summary_interval: 2\n" + extra)

    def load(self, posts, *gen_args):
        self.db.load_sql(self.database, [PINPOST_GEN, "--posts", str(posts), *gen_args])

    def sql(self, statement):
        with self.db.root(self.database) as c, c.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()

    def run(self, *args, timeout=300, check_exit=None, env=None):
        report = self.tmp / f"report-{uuid.uuid4().hex[:6]}.json"
        p = subprocess.run([PINPOSTD, "-c", str(self.config), "--report", str(report), *args],
                           capture_output=True, text=True, timeout=timeout, env=env)
        if check_exit is not None:
            assert p.returncode == check_exit, f"exit {p.returncode}\n{p.stderr[-4000:]}"
        rep = json.loads(report.read_text()) if report.exists() else None
        return p, rep

    def popen(self, *args):
        return self.popen_env(None, *args)

    def popen_env(self, env, *args):
        report = self.tmp / f"report-{uuid.uuid4().hex[:6]}.json"
        p = subprocess.Popen([PINPOSTD, "-c", str(self.config), "--report", str(report), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        return p, report

    def consume(self):
        return consume_all(self.kafka.bootstrap, self.topics)


@pytest.fixture
def env(tmp_path, mariadb, kafka):
    return Env(tmp_path, mariadb, kafka)


class StderrLog:
    """Collects a child's stderr lines as they come, so a test can wait for one."""

    def __init__(self, proc):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, pattern, timeout):
        """The first line matching the regular expression, or None after timeout s."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "".join(self.lines)


def led_metadata(consumer, names, timeout=90):
    """Cluster metadata once every partition of these topics has a leader: after a broker
    was thawed or restarted, its partitions are leaderless for a while."""
    deadline = time.monotonic() + timeout
    while True:
        md = consumer.list_topics(timeout=30)
        if all(n in md.topics and md.topics[n].partitions and
               all(p.leader >= 0 for p in md.topics[n].partitions.values()) for n in names):
            return md
        if time.monotonic() >= deadline:
            return md  # let the reads below say what is wrong
        time.sleep(0.5)


def watermarks(consumer, tp, timeout=90):
    """A partition's low and high offsets. A broker just restarted or thawed may not lead
    its partitions yet (_UNKNOWN_PARTITION, leader not available), and the consumer's
    metadata cache keeps saying so until refreshed: refresh it and retry, within a bounded
    time."""
    from confluent_kafka import KafkaException
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=30)
        except KafkaException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)
            try:
                consumer.list_topics(topic=tp.topic, timeout=10)
            except KafkaException:
                pass


def consume_all(bootstrap, topics, committed=True, timestamps=False):
    """Every message of the three topics, from the beginning to the end at the time of
    the call: {table: [(key, headers, value, partition, offset)]}, each tuple followed by
    the message's (timestamp type, timestamp in ms) when timestamps is True.
    read_committed unless committed is False."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"verify-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "log_level": 0,
                  "isolation.level": "read_committed" if committed else "read_uncommitted"})
    out = {t: [] for t in topics}
    try:
        ends = {}
        assignment = []
        by_topic = {v: k for k, v in topics.items()}
        md = led_metadata(c, topics.values())
        for table, topic in topics.items():
            for p in md.topics[topic].partitions:
                lo, hi = watermarks(c, TopicPartition(topic, p))
                if hi > lo:
                    ends[(topic, p)] = hi
                    assignment.append(TopicPartition(topic, p, lo))
        c.assign(assignment)
        remaining = set(ends)
        idle = 0
        while remaining and idle < 60:
            m = c.poll(1.0)
            # Done with a partition once the consumer's position passed the end seen at
            # the start: a read_committed consumer gets no end-of-partition event while a
            # producer keeps a transaction open (the last stable offset stays below the
            # high watermark), and a transactional producer that commits every few seconds
            # would keep this loop reading new messages for ever.
            for tp in c.position([TopicPartition(t, p) for t, p in remaining]):
                if tp.offset >= 0 and tp.offset >= ends[(tp.topic, tp.partition)]:
                    remaining.discard((tp.topic, tp.partition))
            if m is None:
                idle += 1
                continue
            idle = 0
            tp = (m.topic(), m.partition())
            if m.error():
                # End of partition: for read_committed this is the last stable offset,
                # which control records and aborted transactions keep below the high
                # watermark.
                if m.error().code() == KafkaError._PARTITION_EOF:
                    remaining.discard(tp)
                    continue
                raise RuntimeError(m.error())
            headers = {k: v.decode() for k, v in (m.headers() or [])}
            row = (m.key().decode(), headers, json.loads(m.value()), m.partition(), m.offset())
            out[by_topic[m.topic()]].append(row + (m.timestamp(),) if timestamps else row)
        assert not remaining, f"could not read to the end of {remaining}"
    finally:
        c.close()
    return out


def group_posts(messages, instance):
    """{seq: {table: (key, value, partition)}} for one instance; raises on duplicates."""
    posts = {}
    dups = []
    for table, msgs in messages.items():
        for key, headers, value, partition, offset in msgs:
            if headers.get("pinpostd.instance") != instance:
                continue
            seq = int(headers["pinpostd.seq"])
            slot = posts.setdefault(seq, {})
            if table in slot:
                dups.append((table, seq))
            slot[table] = (key, value, partition)
    assert not dups, f"duplicate messages: {dups[:10]}"
    return posts


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def db_rows(env, keys):
    """The DB rows of these keys, read independently of pinpostd: {table: {key: (column
    names in table order, values)}}. FLOAT columns are read as their exact DOUBLE value."""
    rows = {}
    queries = {
        "pin": ("pinterest_data", "`index`", "*"),
        "geo": ("geolocation_data", "ind",
                "ind, `timestamp`, CAST(latitude AS DOUBLE) AS latitude, "
                "CAST(longitude AS DOUBLE) AS longitude, country"),
        "user": ("user_data", "ind", "*"),
    }
    keys = sorted(set(keys))
    with env.db.root(env.database) as c, c.cursor() as cur:
        for table, (name, key, cols) in queries.items():
            rows[table] = {}
            for i in range(0, len(keys), 1000):
                chunk = keys[i:i + 1000]
                cur.execute(f"SELECT {cols} FROM {name} WHERE {key} IN ({','.join(map(str, chunk))})")
                names = [d[0] for d in cur.description]
                for r in cur.fetchall():
                    rows[table][r[0]] = (names, r)
    return rows


def assert_value_matches(table, value, names, row):
    """A message value equals its DB row: same keys in table order, same values under the
    message contract's type mapping."""
    assert list(value.keys()) == names, f"{table}: keys {list(value.keys())} != {names}"
    for name, expected in zip(names, row):
        got = value[name]
        if hasattr(expected, "strftime"):
            text = expected.strftime("%Y-%m-%d %H:%M:%S")
            if getattr(expected, "microsecond", 0):
                text += ".%06d" % expected.microsecond
            assert got == text, f"{table}.{name}: {got!r} != {text!r}"
        elif isinstance(expected, float):
            # FLOAT columns: the JSON number must be the same single-precision value.
            assert isinstance(got, (int, float)) and f32(got) == f32(expected), \
                f"{table}.{name}: {got!r} is not the float {expected!r}"
            assert len(repr(got)) <= len(repr(expected)), f"{table}.{name}: {got!r} not shortest"
        else:
            assert got == expected, f"{table}.{name}: {got!r} != {expected!r}"


def verify(env, expected_posts, check_rows=True):
    """Read the topics back and prove: posts 1..expected_posts each arrived exactly once
    on all three topics, with equal keys and equal to the DB rows. Returns the posts."""
    posts = group_posts(env.consume(), env.instance)
    partial = {s: sorted(p) for s, p in posts.items() if len(p) != 3}
    assert not partial, f"partial posts: {list(partial.items())[:10]}"
    assert sorted(posts) == list(range(1, expected_posts + 1)), \
        f"sequence numbers: {len(posts)} posts, expected 1..{expected_posts}"
    for seq, p in posts.items():
        keys = {p[t][0] for t in p}
        assert len(keys) == 1, f"post {seq}: keys differ across topics {keys}"
        parts = {p[t][2] for t in p}
        assert len(parts) == 1, f"post {seq}: partitions differ {parts}"
    if check_rows:
        keys = [int(p["pin"][0]) for p in posts.values()]
        rows = db_rows(env, keys)
        for seq, p in posts.items():
            key = int(p["pin"][0])
            for table in ("pin", "geo", "user"):
                assert key in rows[table], f"post {seq}: key {key} has no {table} row in the DB"
                names, row = rows[table][key]
                assert_value_matches(table, p[table][1], names, row)
    return posts
