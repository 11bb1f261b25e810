"""The original Python emulation's algorithm, for comparison only: for each post a new
database connection, a random OFFSET, `SELECT * FROM <table> LIMIT <offset>, 1` on each
table (no ORDER BY, so rows of different posts may be mixed, as in the original), and
each row sent to Kafka; without the 0-2 s sleep. A PyPI Kafka producer replaces the HTTP
proxy so that the comparison measures the same broker."""

import argparse
import datetime
import decimal
import json
import random
import statistics
import time

import pymysql
from confluent_kafka import Producer


def default(o):
    if isinstance(o, (datetime.datetime, datetime.date)):
        return o.isoformat(sep=" ") if isinstance(o, datetime.datetime) else o.isoformat()
    if isinstance(o, decimal.Decimal):
        return str(o)
    raise TypeError(type(o))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--posts", type=int, required=True)
    ap.add_argument("--report", required=True)
    a = ap.parse_args()
    producer = Producer({"bootstrap.servers": a.bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    latencies, sizes = [], []

    def delivered(err, msg, sent=None):
        if err is None:
            latencies.append(time.monotonic() - sent)

    with pymysql.connect(unix_socket=a.socket, user="root", database=a.database) as c, \
            c.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM pinterest_data")
        count = cur.fetchone()[0]
    start = time.monotonic()
    for _ in range(a.posts):
        offset = random.randint(0, count - 1)
        conn = pymysql.connect(unix_socket=a.socket, user="root", database=a.database)
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cur:
                for table, topic in (("pinterest_data", "pin"), ("geolocation_data", "geo"),
                                     ("user_data", "user")):
                    cur.execute(f"SELECT * FROM {table} LIMIT {offset}, 1")
                    row = cur.fetchone()
                    value = json.dumps(row, default=default).encode()
                    sizes.append(len(value))
                    sent = time.monotonic()
                    producer.produce(f"{a.prefix}.{topic}", value=value,
                                     on_delivery=lambda e, m, s=sent: delivered(e, m, s))
                    producer.poll(0)
        finally:
            conn.close()
    producer.flush(60)
    elapsed = time.monotonic() - start
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    with open(a.report, "w") as f:
        json.dump({"posts": a.posts, "messages": len(latencies), "bytes": sum(sizes),
                   "elapsed_s": elapsed, "p50_ms": q(0.5), "p99_ms": q(0.99)}, f)


if __name__ == "__main__":
    main()
