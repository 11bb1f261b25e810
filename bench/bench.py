"""pinpostd side by side with its peers, on one broker and one data set, in one run.

Starts MariaDB and Apache Kafka through the test harness, loads generated tables of
11 000 and 1 000 000 posts (10 000 000 with --huge), then runs, interleaved and repeated:

  pinpostd         from MySQL at full speed (--rate 0 --count N), at 11k and 1M rows
  kcat             the ceiling: exactly the messages pinpostd produces (its --dry-run with
                   the same seed, keys included) to the same topics, same producer settings
  perf-test        Apache Kafka's ProducerPerformance, same record count and mean size
  python           the original emulation's algorithm (random OFFSET, a new connection per
                   post, a Kafka producer from PyPI), without its sleep

and prints one table with the ratios, and writes it as JSON under bench/results/.
This is a measurement, not a test: nothing here fails because the machine is slow."""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "integration"))

from servers import Kafka, MariaDB  # noqa: E402

os.umask(0o077)  # the generated credentials files must not be writable by others

BUILD = os.environ.get("PINPOSTD_BUILD", os.path.join(REPO, "build"))
PINPOSTD = os.path.join(BUILD, "pinpostd")
GEN = os.path.join(BUILD, "pinpost-gen")
KAFKA_LIBS = os.environ.get("KAFKA_LIBS", os.path.join(BUILD, "kafka", "libs"))
PRODUCER = {"acks": "all", "enable.idempotence": "true", "linger.ms": "5"}
TIME = "/usr/bin/time"


def run_child(cmd, env=None, stdin=None, stdout=subprocess.DEVNULL, timeout=3600):
    """Run cmd under GNU time; return (exit status, wall s, cpu s, peak RSS MiB, stderr).
    time(1) measures the command alone: rusage taken here would include the RSS that the
    forked Python interpreter had before exec."""
    err = tempfile.TemporaryFile()
    stats = tempfile.NamedTemporaryFile(mode="r", suffix=".time")
    t0 = time.monotonic()
    p = subprocess.run([TIME, "-q", "-o", stats.name, "-f", "%U %S %M", *cmd], env=env,
                       stdin=stdin, stdout=stdout, stderr=err, timeout=timeout)
    wall = time.monotonic() - t0
    err.seek(0)
    fields = stats.read().split()
    user, sys_, rss_kb = (float(fields[-3]), float(fields[-2]), float(fields[-1])) \
        if len(fields) >= 3 else (0.0, 0.0, 0.0)
    return (p.returncode, wall, user + sys_, rss_kb / 1024.0, err.read().decode(errors="replace"))


def perf_test_command(bootstrap, topic, records, throughput, payload_args, extra_props=()):
    """Apache Kafka's ProducerPerformance from the pinned jars with PRODUCER's settings:
    records to topic at throughput messages/s (-1: unthrottled); payload_args is
    ["--record-size", N] or ["--payload-file", PATH]; extra_props ("key=value") come last,
    so they override PRODUCER's."""
    props = [f"{k}={v}" for k, v in PRODUCER.items()] + list(extra_props)
    return ["java", "-Xmx512m", "-cp", os.path.join(KAFKA_LIBS, "*"),
            "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
            "--num-records", str(records), *payload_args, "--throughput", str(throughput),
            "--producer-props", f"bootstrap.servers={bootstrap}", *props]


def parse_perf_test(text):
    """ProducerPerformance's final line ("N records sent, R records/sec (M MB/sec), A ms avg
    latency, X ms max latency, P ms 50th, ... ms 99.9th.") as a dict, or None, with the 5 s
    windows it printed before. Its percentiles are whole milliseconds from send() to the
    callback."""
    m = re.search(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg "
                  r"latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, "
                  r"(\d+) ms 99.9th", text)
    if not m:
        return None
    # The lines it prints every 5 s while running: that window's rate and latency.
    windows = [{"records": int(w.group(1)), "records_per_s": float(w.group(2)),
                "avg": float(w.group(3)), "max": float(w.group(4))}
               for w in re.finditer(r"(\d+) records sent, ([\d.]+) records/sec \([\d.]+ MB/sec\), "
                                    r"([\d.]+) ms avg latency, ([\d.]+) ms max latency\.", text)]
    return {"records": int(m.group(1)), "records_per_s": float(m.group(2)),
            "mib_per_s": float(m.group(3)), "avg": float(m.group(4)), "max": float(m.group(5)),
            "p50": float(m.group(6)), "p95": float(m.group(7)), "p99": float(m.group(8)),
            "p99_9": float(m.group(9)), "windows": windows}


class Bench:
    def __init__(self, args, tmp, buffer_pool="3G"):
        """Start MariaDB and Kafka; args.batch is pinpostd's source.batch (0: its own)."""
        self.args = args
        self.tmp = tmp
        # The large table must fit in the buffer pool, or the comparison measures disk
        # reads instead of sampling cost.
        self.db = MariaDB(buffer_pool=buffer_pool)
        self.db.start()
        self.kafka = Kafka(KAFKA_LIBS)
        self.kafka.start()
        self.results = {}

    def close(self):
        self.kafka.destroy()
        self.db.destroy()

    def load(self, name, posts):
        self.db.create_database(name)
        t0 = time.monotonic()
        self.db.load_sql(name, [GEN, "--posts", str(posts), "--seed", "1"])
        print(f"loaded {posts} posts into {name} in {time.monotonic() - t0:.0f} s", flush=True)

    def config(self, database, prefix, extra=""):
        d = os.path.join(self.tmp, f"cfg-{database}-{prefix}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "db_creds.yaml"), "w") as f:
            f.write(f"RDS_HOST: 127.0.0.1\nRDS_PORT: {self.db.port}\nRDS_USER: {MariaDB.USER}\n"
                    f"RDS_PASSWORD: {MariaDB.PASSWORD}\nRDS_DATABASE: {database}\n")
        with open(os.path.join(d, "client.properties"), "w") as f:
            f.write(f"bootstrap.servers={self.kafka.bootstrap}\n")
        path = os.path.join(d, "pinpostd.yaml")
        with open(path, "w") as f:
            batch = f"  batch: {self.args.batch}\n" if self.args.batch else ""
            f.write(f"source:\n  credentials: db_creds.yaml\n{batch}"
                    "kafka:\n  properties: client.properties\n"
                    f"  topic_prefix: {prefix}\nservice:\n  instance: bench\n"
                    "  summary_interval: 0\n" + extra)
        return path

    def record(self, name, row):
        """Keep a throughput row under name, print it, and return it."""
        self.results.setdefault(name, []).append(row)
        print(f"  {name:<14} {row['posts_per_s']:>10.0f} posts/s {row['messages_per_s']:>10.0f} msg/s "
              f"{row['mb_per_s']:>7.1f} MB/s  cpu {row['cpu_s_per_m_msgs']:>6.1f} s/M  "
              f"rss {row['peak_rss_mib']:>6.1f} MiB", flush=True)
        return row

    # -- the contenders --

    def pinpostd(self, database, name, rnd, posts):
        cfg = self.config(database, f"b{rnd}{name}")
        report = os.path.join(self.tmp, f"{name}-{rnd}.json")
        rc, wall, cpu, rss, err = run_child([PINPOSTD, "-c", cfg, "--rate", "0", "--count",
                                             str(posts), "--seed", str(100 + rnd), "--report",
                                             report, "-q"])
        if rc != 0:
            raise RuntimeError(f"pinpostd exited {rc}: {err[-2000:]}")
        rep = json.load(open(report))
        busy = rep["elapsed_s"] - rep.get("ready_s", 0)
        msgs = rep["messages_delivered"]
        return self.record(name, {
            "posts_per_s": rep["posts_delivered"] / busy, "messages_per_s": msgs / busy,
            "mb_per_s": rep["bytes_delivered"] / busy / 1e6,
            "p50_ms": rep["latency_ms"]["p50"], "p99_ms": rep["latency_ms"]["p99"],
            "cpu_s_per_m_msgs": cpu / msgs * 1e6, "peak_rss_mib": rss,
            "startup_s": rep.get("ready_s", 0)})

    def dry_messages(self, database, posts, seed):
        """pinpostd's own messages for this seed: per topic as key<TAB>value lines (for
        kcat), and all values one per line (a perf-test --payload-file: it draws one at
        random per record, so its sizes follow pinpostd's). Returns (files per topic, mean
        value size, total value bytes, payload file)."""
        cfg = self.config(database, "dry")
        out = os.path.join(self.tmp, f"dry-{posts}-{seed}.jsonl")
        with open(out, "w") as f:
            rc, *_ , err = run_child([PINPOSTD, "-c", cfg, "--dry-run", "--count", str(posts),
                                      "--seed", str(seed), "-q"], stdout=f)
        if rc != 0:
            raise RuntimeError(err)
        files, sizes = {}, []
        handles = {t: open(os.path.join(self.tmp, f"kcat-{t}.tsv"), "w") for t in ("pin", "geo", "user")}
        payload = os.path.join(self.tmp, f"payload-{posts}-{seed}.txt")
        # Compact JSON escapes every newline, so one value is one line.
        with open(out) as f, open(payload, "w") as pf:
            for line in f:
                m = json.loads(line)
                t = m["topic"].rsplit(".", 1)[1]
                v = json.dumps(m["value"], ensure_ascii=False, separators=(",", ":"))
                handles[t].write(f"{m['key']}\t{v}\n")
                pf.write(v + "\n")
                sizes.append(len(v.encode()))
        for t, h in handles.items():
            h.close()
            files[t] = h.name
        return files, statistics.mean(sizes), sum(sizes), payload

    def kcat(self, rnd, files, total_bytes, posts):
        prefix = f"k{rnd}"
        kc = shutil.which("kcat") or shutil.which("kafkacat")
        props = [x for k, v in PRODUCER.items() for x in ("-X", f"{k}={v}")]
        procs = []
        t0 = time.monotonic()
        for t, path in files.items():
            err = tempfile.TemporaryFile()
            stats = tempfile.NamedTemporaryFile(mode="r", suffix=".time")
            # One message per input line (a file argument would be one message).
            p = subprocess.Popen([TIME, "-q", "-o", stats.name, "-f", "%U %S %M", kc, "-P",
                                  "-b", self.kafka.bootstrap, "-t", f"{prefix}.{t}", "-K", "\t",
                                  "-q", *props], stdin=open(path), stderr=err)
            procs.append((p, err, stats))
        cpu, rss = 0.0, 0.0
        for p, err, stats in procs:
            if p.wait() != 0:
                err.seek(0)
                raise RuntimeError(f"kcat failed: {err.read()[-1000:]}")
            u, sy, m = stats.read().split()[-3:]
            cpu += float(u) + float(sy)
            rss = max(rss, float(m) / 1024.0)
        wall = time.monotonic() - t0
        msgs = 3 * posts
        self.record("kcat", {"posts_per_s": posts / wall, "messages_per_s": msgs / wall,
                             "mb_per_s": total_bytes / wall / 1e6, "p50_ms": None, "p99_ms": None,
                             "cpu_s_per_m_msgs": cpu / msgs * 1e6, "peak_rss_mib": rss})

    def perf_test(self, rnd, records, size):
        cmd = perf_test_command(self.kafka.bootstrap, f"p{rnd}.perf", records, -1,
                                ["--record-size", str(int(size))])
        out = tempfile.TemporaryFile()
        rc, wall, cpu, rss, err = run_child(cmd, stdout=out)
        out.seek(0)
        text = out.read().decode()
        res = parse_perf_test(text)
        if rc != 0 or not res:
            raise RuntimeError(f"perf-test failed: {text[-1000:]} {err[-1000:]}")
        rate = res["records_per_s"]
        self.record("perf-test", {"posts_per_s": rate / 3, "messages_per_s": rate,
                                  "mb_per_s": res["mib_per_s"] * 1.048576,
                                  "p50_ms": res["p50"], "p99_ms": res["p99"],
                                  "cpu_s_per_m_msgs": cpu / records * 1e6, "peak_rss_mib": rss})

    def python(self, database, rnd, posts):
        script = os.path.join(HERE, "original_emulation.py")
        report = os.path.join(self.tmp, f"python-{rnd}.json")
        cmd = [sys.executable, script, "--socket", self.db.socket, "--database", database,
               "--bootstrap", self.kafka.bootstrap, "--prefix", f"y{rnd}", "--posts", str(posts),
               "--report", report]
        rc, wall, cpu, rss, err = run_child(cmd)
        if rc != 0:
            raise RuntimeError(f"python emulation failed: {err[-2000:]}")
        rep = json.load(open(report))
        msgs = rep["messages"]
        self.record("python", {"posts_per_s": rep["posts"] / rep["elapsed_s"],
                               "messages_per_s": msgs / rep["elapsed_s"],
                               "mb_per_s": rep["bytes"] / rep["elapsed_s"] / 1e6,
                               "p50_ms": rep["p50_ms"], "p99_ms": rep["p99_ms"],
                               "cpu_s_per_m_msgs": cpu / msgs * 1e6, "peak_rss_mib": rss})

    def rate_accuracy(self, database, seconds):
        cfg = self.config(database, "rate")
        report = os.path.join(self.tmp, "rate.json")
        rc, wall, cpu, rss, err = run_child([PINPOSTD, "-c", cfg, "--rate", "10000", "--duration",
                                             str(seconds), "--report", report, "-q"])
        rep = json.load(open(report))
        achieved = rep["posts_sampled"] / (rep["elapsed_s"] - rep.get("ready_s", 0))
        return {"target": 10000, "seconds": seconds, "achieved": achieved,
                "error_pct": abs(achieved - 10000) / 100.0}

    def delay_accuracy(self, database, seconds):
        cfg = self.config(database, "delay")
        report = os.path.join(self.tmp, "delay.json")
        run_child([PINPOSTD, "-c", cfg, "--duration", str(seconds), "--report", report, "-q"])
        rep = json.load(open(report))
        mean = (rep["elapsed_s"] - rep.get("ready_s", 0)) / max(rep["posts_sampled"], 1)
        return {"expected_mean_s": 1.0, "seconds": seconds, "posts": rep["posts_sampled"],
                "mean_s": mean, "error_pct": abs(mean - 1.0) * 100}


def callgrind_per_post(posts=20000):
    if not shutil.which("valgrind"):
        return None
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          PINPOSTD, "--demo", "--dry-run", "--seed", "1", "--count", str(posts),
                          "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    return int(m.group(1)) / posts if m else None


def machine():
    model = ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ver = lambda cmd: subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "pinpostd": ver([PINPOSTD, "--version"]),
            "librdkafka": ver(["pkg-config", "--modversion", "rdkafka"]),
            "kcat": ver([shutil.which("kcat") or "true", "-V"]).splitlines()[0:1],
            "kafka_jars": sorted(f for f in os.listdir(KAFKA_LIBS) if f.startswith("kafka_"))[:1],
            "mariadb": ver(["mariadbd", "--version"])}


def summarise(rows):
    keys = rows[0].keys()
    med = {}
    for k in keys:
        vals = [r[k] for r in rows if r[k] is not None]
        med[k] = statistics.median(vals) if vals else None
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer posts and rounds (about 10 minutes)")
    ap.add_argument("--huge", action="store_true", help="also 10 000 000 rows (peak RSS target)")
    ap.add_argument("--long", action="store_true", help="also the 10-minute default-delay run")
    ap.add_argument("--batch", type=int, default=0, help="pinpostd source.batch (default: its own)")
    args = ap.parse_args()
    posts = 30000 if args.quick else 200000
    python_posts = 300 if args.quick else 2000
    rounds = 3
    large = 1000000
    tmp = tempfile.mkdtemp(prefix="pinpostd-bench-")
    b = Bench(args, tmp)
    try:
        b.load("small", 11000)
        b.load("large", large)
        if args.huge:
            b.load("huge", 10000000)
        files, mean_size, total_bytes, _ = b.dry_messages("small", posts, 100)
        for rnd in range(rounds):
            print(f"round {rnd + 1}/{rounds}", flush=True)
            b.pinpostd("small", "pinpostd-11k", rnd, posts)
            b.pinpostd("large", "pinpostd-1M", rnd, posts)
            b.kcat(rnd, files, total_bytes, posts)
            b.perf_test(rnd, 3 * posts, mean_size)
            b.python("small", rnd, python_posts)
            if args.huge:
                b.pinpostd("huge", "pinpostd-10M", rnd, posts)
        extra = {"rate_10000": b.rate_accuracy("small", 10 if args.quick else 30)}
        if args.long:
            extra["default_delay"] = b.delay_accuracy("small", 600)
        extra["callgrind_instructions_per_post"] = callgrind_per_post()
    finally:
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: summarise(v) for k, v in b.results.items()}
    p = med["pinpostd-11k"]
    ratios = {
        "pinpostd/kcat (messages/s)": p["messages_per_s"] / med["kcat"]["messages_per_s"],
        "pinpostd/perf-test (messages/s)": p["messages_per_s"] / med["perf-test"]["messages_per_s"],
        "pinpostd/python (posts/s)": p["posts_per_s"] / med["python"]["posts_per_s"],
        "pinpostd 1M rows / 11k rows (posts/s)": med["pinpostd-1M"]["posts_per_s"] / p["posts_per_s"],
    }
    fmt = lambda v, f: "n/a" if v is None else format(v, f)
    print()
    print(f"{'':<14} {'posts/s':>10} {'msgs/s':>10} {'MB/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU s/M msg':>11} {'peak RSS MiB':>12}")
    for name, r in med.items():
        print(f"{name:<14} {r['posts_per_s']:>10.0f} {r['messages_per_s']:>10.0f} "
              f"{r['mb_per_s']:>7.1f} {fmt(r['p50_ms'], '7.1f'):>7} {fmt(r['p99_ms'], '7.1f'):>7} "
              f"{r['cpu_s_per_m_msgs']:>11.1f} {r['peak_rss_mib']:>12.1f}")
    print()
    for k, v in ratios.items():
        print(f"{k:<40} {v:6.2f}")
    r = extra["rate_10000"]
    print(f"{'--rate 10000 achieved':<40} {r['achieved']:.1f}/s over {r['seconds']} s "
          f"({r['error_pct']:.2f}% off)")
    if "default_delay" in extra:
        d = extra["default_delay"]
        print(f"{'default delay mean':<40} {d['mean_s']:.3f} s over {d['posts']} posts "
              f"({d['error_pct']:.1f}% off 1 s)")
    if extra["callgrind_instructions_per_post"]:
        print(f"{'instructions per post (dry run)':<40} {extra['callgrind_instructions_per_post']:.0f}")
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "mode": "quick" if args.quick else "full", "posts_per_run": posts,
              "python_posts_per_run": python_posts, "rounds": rounds, "machine": machine(),
              "median": med, "runs": b.results, "ratios": ratios, **extra}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = os.path.join(HERE, "results", f"{result['mode']}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(name, "w") as f:
        json.dump(result, f, indent=1)
    shutil.copy(name, os.path.join(HERE, "results", f"latest-{result['mode']}.json"))
    print(f"\nwritten to {os.path.relpath(name, REPO)}")


if __name__ == "__main__":
    main()
