"""Per-pod sizing figures for deploy/kubernetes (docs/scaling.md): one pinpostd (the
optimised build) against the harness's MariaDB and Kafka on loopback; CPU and peak RSS by
GNU time (bench.run_child), throughput and bytes per post from the run report. Unpaced
three times, then 100, 1 000, 5 000 and 10 000 posts/s for 30 s each; with --rows N also
on a table of N rows. A measurement, not a test: results in bench/results/pod-sizing-*.json.

    make bench-pods [PODS_ARGS="--rows 1000000"]
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import PINPOSTD, Bench, run_child  # noqa: E402


class _Opts:
    batch = 0


def one(b, db, prefix, args):
    cfg = b.config(db, prefix)
    report = os.path.join(b.tmp, f"{prefix}.json")
    rc, wall, cpu, rss, err = run_child([PINPOSTD, "-c", cfg, "--report", report, "-q", *args])
    if rc != 0:
        raise RuntimeError(f"pinpostd {' '.join(args)}: exit {rc}: {err[-2000:]}")
    with open(report) as f:
        rep = json.load(f)
    busy = rep["elapsed_s"] - rep.get("ready_s", 0)
    row = {"args": " ".join(args), "posts": rep["posts_delivered"],
           "posts_per_s": rep["posts_delivered"] / busy,
           "MB_per_s": rep["bytes_delivered"] / busy / 1e6,
           "bytes_per_post": rep["bytes_delivered"] / max(rep["posts_delivered"], 1),
           "cpu_s": cpu, "wall_s": wall, "ready_s": rep.get("ready_s", 0), "busy_s": busy,
           "cores_busy": cpu / wall, "peak_rss_mib": rss, "load": os.getloadavg()[0]}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
          flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=0, help="also measure on a table this big")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pp-pod-sizing-")
    b = Bench(_Opts(), tmp, buffer_pool="1G")
    rows = []
    try:
        b.load("small", 11000)
        for rnd in range(3):
            rows.append(one(b, "small", f"r0x{rnd}",
                            ["--rate", "0", "--count", "100000", "--seed", str(100 + rnd)]))
        for rate in (100, 1000, 5000, 10000):
            rows.append(one(b, "small", f"r{rate}",
                            ["--rate", str(rate), "--duration", "30", "--seed", "7"]))
        if a.rows:
            b.load("large", a.rows)
            rows.append(one(b, "large", "big0", ["--rate", "0", "--count", "100000", "--seed", "9"]))
            rows.append(one(b, "large", "big1000",
                            ["--rate", "1000", "--duration", "30", "--seed", "9"]))
    finally:
        b.close()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       time.strftime("pod-sizing-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    print(f"written {out}")


if __name__ == "__main__":
    main()
