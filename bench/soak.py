"""Soak: pinpostd at a steady rate for a long time, its memory watched from outside.

Starts MariaDB and Apache Kafka through the test harness, loads 11 000 posts, runs
pinpostd with --rate R --duration S, and samples its resident set (VmRSS from
/proc/PID/status) every 10 s. Prints RSS at the first sample (10 s in), after the first minute
(queues, connection buffers and the latency histogram are warm by then), and at the end,
with the end/warm ratio: a daemon that leaks grows through the whole hour, one that does
not stays flat (the target is within 5%). Also checks that every sampled post was
delivered. Writes bench/results/soak-*.json. A measurement, not a test."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "integration"))

from servers import Kafka, MariaDB  # noqa: E402

os.umask(0o077)

BUILD = os.environ.get("PINPOSTD_BUILD", os.path.join(REPO, "build"))
PINPOSTD = os.path.join(BUILD, "pinpostd")
GEN = os.path.join(BUILD, "pinpost-gen")
KAFKA_LIBS = os.environ.get("KAFKA_LIBS", os.path.join(BUILD, "kafka", "libs"))
WARM_S = 60
SAMPLE_S = 10


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _exited_within(p, seconds):
    try:
        p.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def write_config(d, db, kafka, database):
    with open(os.path.join(d, "db_creds.yaml"), "w") as f:
        f.write(f"RDS_HOST: 127.0.0.1\nRDS_PORT: {db.port}\nRDS_USER: {MariaDB.USER}\n"
                f"RDS_PASSWORD: {MariaDB.PASSWORD}\nRDS_DATABASE: {database}\n")
    with open(os.path.join(d, "client.properties"), "w") as f:
        f.write(f"bootstrap.servers={kafka.bootstrap}\n")
    path = os.path.join(d, "pinpostd.yaml")
    with open(path, "w") as f:
        f.write("source:\n  credentials: db_creds.yaml\nkafka:\n  properties: client.properties\n"
                "  topic_prefix: soak\n  create_topics: true\n"
                "service:\n  instance: soak\n  summary_interval: 300\n")
    return path


def soak(seconds, rate, tmp):
    db = MariaDB()
    kafka = Kafka(KAFKA_LIBS)
    try:
        db.start()
        kafka.start()
        db.create_database("soak")
        db.load_sql("soak", [GEN, "--posts", "11000", "--seed", "1"])
        cfg = write_config(tmp, db, kafka, "soak")
        report = os.path.join(tmp, "report.json")
        log = open(os.path.join(tmp, "pinpostd.log"), "w+")
        p = subprocess.Popen([PINPOSTD, "-c", cfg, "--rate", str(rate), "--duration",
                              str(seconds), "--report", report], stderr=log)
        t0 = time.monotonic()
        samples = []
        # The first sample comes SAMPLE_S in: connected, keys read, producing.
        while not _exited_within(p, SAMPLE_S):
            try:
                samples.append((round(time.monotonic() - t0, 1), rss_kib(p.pid)))
            except (OSError, RuntimeError):
                break
        rc = p.wait()
        log.seek(0)
        if rc != 0:
            raise RuntimeError(f"pinpostd exited {rc}: {log.read()[-3000:]}")
        rep = json.load(open(report))
    finally:
        kafka.destroy()
        db.destroy()
    return samples, rep


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=3600, help="run length (default 3600)")
    ap.add_argument("--rate", type=float, default=500, help="posts per second (default 500)")
    args = ap.parse_args()
    if args.seconds < 2 * WARM_S:
        ap.error(f"--seconds must be at least {2 * WARM_S}")
    tmp = tempfile.mkdtemp(prefix="pinpostd-soak-")
    try:
        samples, rep = soak(args.seconds, args.rate, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    warm = next(kib for t, kib in samples if t >= WARM_S)
    first, end, peak = samples[0][1], samples[-1][1], max(kib for _, kib in samples)
    ratio = end / warm
    print(f"soak: {args.seconds} s at {args.rate:g} posts/s; {rep['posts_delivered']} of "
          f"{rep['posts_sampled']} posts delivered, {rep['posts_failed']} failed")
    print(f"RSS MiB: at {samples[0][0]:.0f} s {first / 1024:.1f}, after {WARM_S} s {warm / 1024:.1f}, "
          f"at end {end / 1024:.1f}, peak {peak / 1024:.1f}")
    print(f"end / after {WARM_S} s: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%; target within 5%: "
          f"{'met' if abs(ratio - 1) <= 0.05 else 'NOT met'})")
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": args.seconds, "rate": args.rate, "rss_kib": samples,
              "rss_start_kib": first, "rss_warm_kib": warm, "rss_end_kib": end,
              "rss_peak_kib": peak, "end_over_warm": ratio,
              "posts_sampled": rep["posts_sampled"], "posts_delivered": rep["posts_delivered"],
              "posts_failed": rep["posts_failed"], "achieved_posts_per_s":
                  rep["posts_sampled"] / max(rep["elapsed_s"] - rep.get("ready_s", 0), 1e-9)}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = os.path.join(HERE, "results", f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(name, "w") as f:
        json.dump(result, f, indent=1)
    print(f"written to {os.path.relpath(name, REPO)}")
    if rep["posts_delivered"] != rep["posts_sampled"]:
        sys.exit("soak: not every sampled post was delivered")


if __name__ == "__main__":
    main()
