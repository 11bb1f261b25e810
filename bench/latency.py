"""Latency at equal rate: pinpostd and kafka-producer-perf-test at fractions of pinpostd's maximum.

Starts MariaDB and Apache Kafka through bench.py's Bench (the test harness), loads 11 000
generated posts, then:

  1. measures pinpostd's maximum: --rate 0 --count N, the median posts/s of a few runs over
     the busy time (as bench.py measures it);
  2. at 25%, 50% and 75% of that rate (R posts/s, 3R messages/s) runs, one after the other:
       pinpostd fixed     --rate R --duration D (evenly spaced posts)
       pinpostd poisson   the same with emulation.arrivals: poisson (when the build has it)
       perf-test          Apache Kafka's ProducerPerformance, --throughput 3R messages/s,
                          3R*D records, --payload-file holding pinpostd's own values (its dry
                          run: the same size distribution), the same producer settings
     on topics created beforehand with the same partitions: three topics of P partitions
     for pinpostd (one a table), one topic of 3P for perf-test;
  3. prints p50/p99/p99.9 side by side and pinpostd/perf-test as ratios, and writes JSON
     under bench/results/ (latency-*.json, latest-latency.json).

The default run takes about three minutes on 2 cores; --duration and --rounds make it longer.
This is a measurement, not a test: nothing here fails because the machine is slow."""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from bench import HERE, PINPOSTD, REPO, Bench, machine, parse_perf_test, perf_test_command, \
    run_child

FRACTIONS = (0.25, 0.5, 0.75)
QUANTILES = ("p50", "p99", "p99_9")
# An achieved rate this far under its target is flagged: that row is not at equal rate.
SHORT_OF_TARGET = 0.95

NOTES = """\
notes:
- pinpostd "produce" and "intended" are per post (three messages) when the report has a
  "load" section: produce = from the produce call of the post's first message to the last
  of its three delivery reports; intended = from the post's scheduled send time to that
  last report, so time spent behind schedule (a slow query, a full queue, a stalled broker)
  counts (no coordinated omission). "per message" is the report's latency_ms: each message
  from its produce call to its delivery report, over the whole run (warm-up included).
- perf-test measures each message from its send() call to its callback, in whole
  milliseconds, from at most 500 000 sampled records. Its throttle sleeps when ahead and,
  when behind, sends the late records at once, each timed from its late send(); time
  blocked inside send() on a full buffer is not counted: coordinated omission. So the
  like-for-like pair is pinpostd "per message" vs perf-test; "intended" is what a user of
  an open-model load generator sees, which perf-test cannot show.
- Same broker, producer settings and value sizes (perf-test draws each value at random from
  pinpostd's own); pinpostd also sends keys (hash partitioned across its three topics) and
  sequence headers, perf-test sends neither (its null keys go to one sticky partition at a
  time). pinpostd sends a post's three messages together; perf-test spreads its records.
- The p50s differ by the libraries' batching: librdkafka (pinpostd) keeps a partition's
  batch open for linger.ms (5 ms) unless it reaches 1 MB, so its p50 is about 5 ms plus the
  broker's round trip; the Java producer sends a batch when its 16 KiB fill, which the
  sticky partitioner does within 1-3 ms at these rates. --perf-test-prop
  batch.size=1000000 gives perf-test librdkafka's batch size (its p50 then rises to ~6 ms).
- Neither leaves out a warm-up unless --warmup is given (pinpostd only: perf-test 3.9 has no
  warm-up option), so perf-test's figures include its JIT compiling in the first seconds.
- "max per 5 s window": perf-test's own report every 5 s; a first window far above the
  others means its p99/p99.9 over a short run describe its start, not its steady state.
- ratio = pinpostd / perf-test: below 1, pinpostd's latency is lower. Percentiles of a few
  milliseconds make coarse ratios (perf-test rounds down to whole milliseconds).
- "*": the achieved rate fell more than 5% short of the target; that row is not at equal
  rate (the contender could not keep up on this machine)."""


def quantiles(d):
    """The p50/p99/p99.9/max of a latency object, whichever spelling of p99.9 it uses."""
    if not d:
        return None
    return {"p50": d.get("p50"), "p90": d.get("p90"), "p99": d.get("p99"),
            "p99_9": d.get("p99_9", d.get("p999")), "max": d.get("max")}


def pinpostd_latency(rep):
    """From pinpostd's run report: the latency it measured and the rate it achieved.
    Prefers the "load" section (per post, produce and intended, after warm-up); a build
    without it has only latency_ms (per message, produce call to delivery)."""
    per_message = quantiles(rep.get("latency_ms"))
    busy = max(rep["elapsed_s"] - rep.get("ready_s", 0), 1e-9)
    achieved = rep["posts_delivered"] / busy
    load = rep.get("load")
    if load and isinstance(load.get("latency_ms"), dict) and "produce" in load["latency_ms"]:
        stages = load.get("stages") or []
        if load.get("achieved_rate") is not None:
            achieved = load["achieved_rate"]
        elif stages and stages[0].get("achieved_rate") is not None:
            achieved = stages[0]["achieved_rate"]
        return {"source": "load.latency_ms (per post)",
                "produce": quantiles(load["latency_ms"]["produce"]),
                "intended": quantiles(load["latency_ms"].get("intended")),
                "per_message": per_message, "achieved_posts_per_s": achieved,
                "load": load}
    return {"source": "latency_ms (per message; this build has no load section)",
            "produce": per_message, "intended": None, "per_message": per_message,
            "achieved_posts_per_s": achieved}


class LatencyBench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        # 11 000 posts fit in the harness's default buffer pool many times over.
        self.b = Bench(args, tmp, buffer_pool="256M")
        self.runs = []
        self.seq = 0

    def close(self):
        self.b.close()

    def prepare(self):
        self.b.load("small", 11000)
        files, mean, _, self.payload = self.b.dry_messages("small", self.args.payload_posts, 100)
        self.tables = sorted(files)
        self.mean_size = mean
        print(f"perf-test values: {self.args.payload_posts * 3} of pinpostd's own, mean "
              f"{mean:.0f} bytes", flush=True)

    def maximum(self):
        rows = [self.b.pinpostd("small", "pinpostd-max", rnd, self.args.max_posts)
                for rnd in range(self.args.max_rounds)]
        return statistics.median(r["posts_per_s"] for r in rows), rows

    def _topics(self, prefix, names, partitions):
        self.b.kafka.create_topics([f"{prefix}.{n}" for n in names], partitions=partitions)

    def pinpostd(self, rate, arrivals, rnd, fraction):
        """pinpostd at rate posts/s for the run's duration; the row, or None if this build
        does not know the arrival process."""
        self.seq += 1
        prefix = f"lat{self.seq}"
        self._topics(prefix, self.tables, self.args.partitions)
        # Only what differs from the defaults: a build without these keys still runs the
        # fixed row.
        keys = ([f"  arrivals: {arrivals}\n"] if arrivals != "fixed" else []) + \
            ([f"  warmup: {self.args.warmup:g}\n"] if self.args.warmup else [])
        cfg = self.b.config("small", prefix, "emulation:\n" + "".join(keys) if keys else "")
        report = os.path.join(self.tmp, f"{prefix}.json")
        rc, wall, cpu, rss, err = run_child([PINPOSTD, "-c", cfg, "--rate", f"{rate:.3f}",
                                             "--duration", f"{self.args.duration:g}", "--seed",
                                             str(200 + self.seq), "--report", report, "-q"])
        if rc != 0 and not os.path.exists(report):
            if arrivals != "fixed":
                print(f"  pinpostd {arrivals}: not run, this build refused it (exit {rc}): "
                      f"{err.strip().splitlines()[-1] if err.strip() else ''}", flush=True)
                return None
            raise RuntimeError(f"pinpostd exited {rc}: {err[-2000:]}")
        with open(report) as f:
            rep = json.load(f)
        lat = pinpostd_latency(rep)
        row = {"contender": f"pinpostd {arrivals}", "round": rnd, "fraction": fraction,
               "target_posts_per_s": rate, "target_messages_per_s": 3 * rate,
               "achieved_posts_per_s": lat["achieved_posts_per_s"],
               "achieved_messages_per_s": 3 * lat["achieved_posts_per_s"],
               "latency_source": lat["source"], "produce": lat["produce"],
               "intended": lat["intended"], "per_message": lat["per_message"],
               "exit_status": rc, "cpu_s": cpu, "peak_rss_mib": rss,
               "posts_delivered": rep["posts_delivered"], "posts_failed": rep["posts_failed"]}
        if "load" in lat:
            row["load"] = lat["load"]
        self._print(row)
        self.runs.append(row)
        return row

    def perf_test(self, rate, rnd, fraction):
        """ProducerPerformance at 3 * rate messages/s for the run's duration."""
        self.seq += 1
        topic = f"lat{self.seq}.perf"
        # One topic holding as many partitions as pinpostd's three together.
        self._topics(f"lat{self.seq}", ["perf"], 3 * self.args.partitions)
        msgs = 3 * rate
        records = max(1, round(msgs * self.args.duration))
        out = tempfile.TemporaryFile()
        rc, wall, cpu, rss, err = run_child(
            perf_test_command(self.b.kafka.bootstrap, topic, records, f"{msgs:.3f}",
                              ["--payload-file", self.payload], self.args.perf_test_prop),
            stdout=out)
        out.seek(0)
        text = out.read().decode(errors="replace")
        res = parse_perf_test(text)
        if rc != 0 or not res:
            raise RuntimeError(f"perf-test failed (exit {rc}): {text[-1000:]} {err[-1000:]}")
        row = {"contender": "perf-test", "round": rnd, "fraction": fraction,
               "target_posts_per_s": rate, "target_messages_per_s": msgs,
               "achieved_posts_per_s": res["records_per_s"] / 3,
               "achieved_messages_per_s": res["records_per_s"],
               "latency_source": "ProducerPerformance (per message, from send())",
               "produce": quantiles(res), "intended": None, "per_message": quantiles(res),
               "records": records, "exit_status": rc, "cpu_s": cpu, "peak_rss_mib": rss,
               "avg_ms": res["avg"], "windows": res["windows"]}
        self._print(row)
        self.runs.append(row)
        return row

    @staticmethod
    def _print(row):
        p = row["produce"]
        line = (f"  {row['contender']:<17} {row['fraction'] * 100:3.0f}%  target "
                f"{row['target_messages_per_s']:>8.0f} msg/s achieved "
                f"{row['achieved_messages_per_s']:>8.0f}  p50 {p['p50']:.1f} p99 {p['p99']:.1f} "
                f"p99.9 {p['p99_9']:.1f} ms")
        if row["intended"]:
            i = row["intended"]
            line += f"  (intended p50 {i['p50']:.1f} p99 {i['p99']:.1f} p99.9 {i['p99_9']:.1f})"
        if row.get("windows"):
            line += f"  (max per 5 s: {window_maxima(row)})"
        print(line, flush=True)


def window_maxima(row):
    """perf-test's max latency in each of its 5 s windows: "612, 40, 38" shows whether its
    tail is the start (class loading, JIT, the catch-up burst after the first send()) or
    the steady state."""
    return ", ".join(f"{w['max']:.0f}" for w in row["windows"]) + " ms"


def median_of(rows, kind):
    """The median over rounds of each quantile of one kind (produce/intended/per_message)."""
    vals = [r[kind] for r in rows if r.get(kind)]
    if not vals:
        return None
    return {q: statistics.median(v[q] for v in vals if v.get(q) is not None)
            for q in ("p50", "p99", "p99_9", "max")
            if any(v.get(q) is not None for v in vals)}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarise(runs, fractions):
    """Per fraction and contender: medians over rounds, and the ratios to perf-test."""
    table = []
    for f in fractions:
        at = [r for r in runs if r["fraction"] == f]
        perf = [r for r in at if r["contender"] == "perf-test"]
        perf_q = median_of(perf, "produce")
        for name in ("pinpostd fixed", "pinpostd poisson", "perf-test"):
            rows = [r for r in at if r["contender"] == name]
            if not rows:
                continue
            entry = {"fraction": f, "contender": name,
                     "target_posts_per_s": rows[0]["target_posts_per_s"],
                     "target_messages_per_s": rows[0]["target_messages_per_s"],
                     "achieved_messages_per_s":
                         statistics.median(r["achieved_messages_per_s"] for r in rows),
                     "latency_source": rows[0]["latency_source"], "kinds": {}}
            if name == "perf-test":
                entry["window_max_ms"] = [[w["max"] for w in r["windows"]] for r in rows]
            kinds = ("produce",) if name == "perf-test" else ("produce", "intended", "per_message")
            for kind in kinds:
                q = median_of(rows, kind)
                if q is None:
                    continue
                entry["kinds"][kind] = {
                    "ms": q, "ratio_to_perf_test":
                        {k: ratio(q.get(k), perf_q.get(k) if perf_q else None) for k in QUANTILES}}
            table.append(entry)
    return table


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def print_table(table, max_pps):
    print()
    print(f"pinpostd's maximum: {max_pps:.0f} posts/s ({3 * max_pps:.0f} msgs/s)")
    print(f"{'load':>4} {'posts/s':>8} {'msgs/s':>8}  {'contender':<17} {'latency':<11} "
          f"{'achieved':>9} {'p50':>7} {'p99':>7} {'p99.9':>7}  {'ratio p50':>9} {'p99':>6} "
          f"{'p99.9':>6}")
    last = None
    for e in table:
        head = (f"{e['fraction'] * 100:3.0f}% {e['target_posts_per_s']:>8.0f} "
                f"{e['target_messages_per_s']:>8.0f}" if e["fraction"] != last else " " * 22)
        last = e["fraction"]
        short = e["achieved_messages_per_s"] < SHORT_OF_TARGET * e["target_messages_per_s"]
        first = True
        for kind, label in (("produce", "produce"), ("intended", "intended"),
                            ("per_message", "per message")):
            if kind not in e["kinds"]:
                continue
            k = e["kinds"][kind]
            label = "per message" if e["contender"] == "perf-test" else label
            ach = f"{e['achieved_messages_per_s']:>8.0f}{'*' if short else ' '}" if first else " " * 9
            rat = ("" if e["contender"] == "perf-test" else
                   f"  {fmt(k['ratio_to_perf_test']['p50'], '9.2f'):>9} "
                   f"{fmt(k['ratio_to_perf_test']['p99'], '6.2f'):>6} "
                   f"{fmt(k['ratio_to_perf_test']['p99_9'], '6.2f'):>6}")
            print(f"{head}  {e['contender'] if first else '':<17} {label:<11} {ach} "
                  f"{fmt(k['ms'].get('p50'), '7.1f'):>7} {fmt(k['ms'].get('p99'), '7.1f'):>7} "
                  f"{fmt(k['ms'].get('p99_9'), '7.1f'):>7}{rat}")
            head = " " * 22
            first = False
        if any(e.get("window_max_ms") or []):
            maxima = "; ".join(", ".join(f"{m:.0f}" for m in w) for w in e["window_max_ms"])
            print(f"{'':<41}(max per 5 s window: {maxima} ms)")
    print("(latencies in ms; achieved in msgs/s; ratio = pinpostd / perf-test)")
    sources = sorted({e["latency_source"] for e in table if e["contender"] != "perf-test"})
    print(f"pinpostd latency read from: {'; '.join(sources)}")
    print(NOTES)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=15,
                    help="seconds of each paced run (default 15; 60 or more for steadier p99.9)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repetitions of every paced run, medians reported (default 1)")
    ap.add_argument("--fractions", default=",".join(f"{f:g}" for f in FRACTIONS),
                    help="fractions of the maximum, comma-separated (default 0.25,0.5,0.75)")
    ap.add_argument("--max-posts", type=int, default=50000,
                    help="posts of each maximum-rate run (default 50000)")
    ap.add_argument("--max-rounds", type=int, default=3,
                    help="maximum-rate runs, the median taken (default 3)")
    ap.add_argument("--max-rate", type=float, default=0,
                    help="skip measuring: take this as pinpostd's maximum, posts/s")
    ap.add_argument("--partitions", type=int, default=3,
                    help="partitions of each of pinpostd's three topics; perf-test's one "
                         "topic gets three times as many (default 3)")
    ap.add_argument("--no-poisson", action="store_true",
                    help="leave out the emulation.arrivals: poisson row")
    ap.add_argument("--warmup", type=float, default=0,
                    help="pinpostd's emulation.warmup in seconds (default 0, as perf-test has "
                         "none)")
    ap.add_argument("--payload-posts", type=int, default=10000,
                    help="posts of pinpostd's dry run whose values perf-test draws from "
                         "(default 10000)")
    ap.add_argument("--perf-test-prop", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra producer property for perf-test (repeatable), e.g. "
                         "batch.size=1000000, librdkafka's default batch size")
    ap.add_argument("--batch", type=int, default=0, help="pinpostd source.batch (default: its own)")
    args = ap.parse_args()
    try:
        fractions = tuple(float(x) for x in args.fractions.split(","))
    except ValueError:
        ap.error(f"--fractions: '{args.fractions}' is not a comma-separated list of numbers")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        ap.error("--fractions: each must be above 0 and at most 1")
    bad = [p for p in args.perf_test_prop if "=" not in p or p.startswith("=")]
    if bad:
        ap.error(f"--perf-test-prop: '{bad[0]}' is not KEY=VALUE")
    if args.duration <= 0 or args.rounds < 1 or args.max_rounds < 1 or args.partitions < 1:
        ap.error("--duration, --rounds, --max-rounds and --partitions must be positive")

    tmp = tempfile.mkdtemp(prefix="pinpostd-latency-")
    lb = LatencyBench(args, tmp)
    t0 = time.monotonic()
    # The machine's load when the run started and ended: other work on the same cores
    # shows in the tails.
    loadavg = [os.getloadavg()]
    try:
        lb.prepare()
        max_rows = []
        if args.max_rate > 0:
            max_pps = args.max_rate
        else:
            max_pps, max_rows = lb.maximum()
        print(f"pinpostd's maximum: {max_pps:.0f} posts/s", flush=True)
        poisson = not args.no_poisson
        for rnd in range(args.rounds):
            for f in fractions:
                rate = f * max_pps
                print(f"round {rnd + 1}/{args.rounds}, {f * 100:.0f}%: {rate:.0f} posts/s, "
                      f"{3 * rate:.0f} msgs/s", flush=True)
                # Alternate who goes first, so neither always follows the other's backlog.
                order = ["pinpostd", "perf"] if (rnd + fractions.index(f)) % 2 == 0 \
                    else ["perf", "pinpostd"]
                for who in order:
                    if who == "perf":
                        lb.perf_test(rate, rnd, f)
                        continue
                    lb.pinpostd(rate, "fixed", rnd, f)
                    if poisson and lb.pinpostd(rate, "poisson", rnd, f) is None:
                        poisson = False
    finally:
        loadavg.append(os.getloadavg())
        lb.close()
        shutil.rmtree(tmp, ignore_errors=True)

    table = summarise(lb.runs, fractions)
    print_table(table, max_pps)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "duration_s": args.duration, "rounds": args.rounds, "fractions": fractions,
              "partitions_per_topic": args.partitions, "warmup_s": args.warmup,
              "perf_test_props": args.perf_test_prop,
              "mean_value_bytes": lb.mean_size, "wall_s": time.monotonic() - t0,
              "machine": machine(), "loadavg_start_end": loadavg, "max_posts_per_s": max_pps,
              "max_runs": max_rows,
              "table": table, "runs": lb.runs, "notes": NOTES}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = os.path.join(HERE, "results", f"latency-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(name, "w") as f:
        json.dump(result, f, indent=1)
    shutil.copy(name, os.path.join(HERE, "results", "latest-latency.json"))
    print(f"\nwritten to {os.path.relpath(name, REPO)}")


if __name__ == "__main__":
    main()
