"""The invariants of a lifecycle run (test_lifecycle.py): what the --report JSON and the
exit status say against what an independent consumer finds in Kafka. None of them
depends on timing: only on the report, the topics, the log and what the schedule did."""

import re
from collections import defaultdict
from typing import NamedTuple

from lifecycle_runner import STARTUP_HUP_BOUND_S

TABLES = ("pin", "geo", "user")
DELIVERED_LINE = re.compile(r"post (-?\d+) seq (\d+) delivered")


class Violation(NamedTuple):
    name: str
    text: str

    def __str__(self):
        return f"[{self.name}] {self.text}"


class KafkaView:
    """One instance's messages as a read_committed (or read_uncommitted) consumer sees
    them: per sequence number and table, every (key, partition, offset)."""

    def __init__(self, messages, instance):
        self.by_seq = defaultdict(lambda: defaultdict(list))
        self.bad_headers = []
        for table, msgs in messages.items():
            for key, headers, value, partition, offset in msgs:
                if headers.get("pinpostd.instance") != instance:
                    continue
                try:
                    seq = int(headers["pinpostd.seq"])
                except (KeyError, ValueError):
                    self.bad_headers.append((table, partition, offset, headers))
                    continue
                self.by_seq[seq][table].append((key, partition, offset))
        self.whole = {s for s, p in self.by_seq.items() if all(t in p for t in TABLES)}
        self.partial = {s: sorted(p) for s, p in self.by_seq.items() if s not in self.whole}
        self.dups = [(s, t, len(v)) for s, p in self.by_seq.items() for t, v in p.items()
                     if len(v) > 1]
        # Distinct posts with a message in each topic, and messages in each topic.
        self.posts_in = {t: sum(1 for p in self.by_seq.values() if t in p) for t in TABLES}
        self.messages_in = {t: sum(len(p[t]) for p in self.by_seq.values() if t in p)
                            for t in TABLES}

    def summary(self):
        return (f"{len(self.by_seq)} sequence numbers, {len(self.whole)} whole posts, "
                f"{len(self.partial)} partial, {len(self.dups)} duplicated messages; "
                f"messages per topic {self.messages_in}")


def delivered_seqs_in_log(log_text):
    """Sequence numbers pinpostd logged as delivered (it logs each post at <= 5 posts/s)."""
    return {int(m.group(2)) for m in DELIVERED_LINE.finditer(log_text)}


def check(schedule, run, report, view, ref_keys, log_text):
    """Every invariant, as a list of violations (empty: the run is correct)."""
    v = []
    eos = schedule.mode == "exactly_once"
    broker_killed = "kafka_kill" in run.faults

    # -- the process --
    if run.killed_by_test:
        v.append(Violation("exit", "pinpostd did not exit after SIGTERM within the bound "
                           "(kafka.flush_timeout 60 s plus slack): the test killed it"))
    elif run.term_t is None or run.exited_t < run.term_t:
        v.append(Violation("exit", f"pinpostd exited on its own with status {run.status} at "
                           f"t={run.exited_t:.1f}s, before the schedule's SIGTERM: nothing in "
                           "the schedule (reloads, server faults) may stop the daemon"))
    if run.status not in (0, 1) and not run.killed_by_test:
        v.append(Violation("exit", f"exit status {run.status}: a run stopped by SIGTERM "
                           "ends 0 (all delivered) or 1 (posts failed), never by a signal "
                           "(crash) or with 78"))

    # -- reloads --
    for h in run.hups:
        if h["startup"]:
            if h["outcome"] is None or h["outcome_t"] - h["t"] > STARTUP_HUP_BOUND_S:
                v.append(Violation(
                    "reload-during-startup",
                    f"SIGHUP at t={h['t']:.1f}s while start-up waited for an unreachable "
                    f"database (the new configuration names the reachable one) was not acted "
                    f"on within {STARTUP_HUP_BOUND_S:g} s: pinpostd keeps waiting with the "
                    "old configuration"))
            elif h["outcome"] != "applied":
                v.append(Violation(
                    "reload-during-startup",
                    f"SIGHUP at t={h['t']:.1f}s during start-up with a valid configuration "
                    "naming the reachable database was refused"))
        elif h["config"] not in ("rate", "delay") and h["outcome"] == "applied":
            v.append(Violation("reload-refused", f"SIGHUP at t={h['t']:.1f}s with the "
                               f"invalid configuration '{h['config']}' was applied; it must be "
                               "refused and the running configuration kept"))

    if report is None:
        if not run.killed_by_test and run.status in (0, 1):
            v.append(Violation("report", f"exit {run.status} but no --report JSON written"))
        return v

    S = report["posts_sampled"]
    D = report["posts_delivered"]
    F = report["posts_failed"]
    U = report.get("posts_unknown", 0)
    K = report.get("posts_skipped", 0)
    IF = report.get("posts_in_flight", 0)
    m = {t: report["per_topic"][t]["messages_delivered"] for t in TABLES}

    # -- the report against itself and the exit status --
    if S != D + F + U + K + IF:
        v.append(Violation("report", f"posts_sampled {S} != delivered {D} + failed {F} + "
                           f"unknown {U} + skipped {K} + in_flight {IF}"))
    if IF != 0:
        v.append(Violation("report", f"posts_in_flight {IF} at exit: every post must end "
                           "delivered, failed or unknown"))
    if report["messages_delivered"] != sum(m.values()):
        v.append(Violation("report", f"messages_delivered {report['messages_delivered']} != "
                           f"sum of per_topic {m}"))
    if not run.killed_by_test:
        want = 0 if F + U + IF == 0 else 1
        if run.status != want:
            v.append(Violation("exit-status", f"exit status {run.status} but the report says "
                               f"failed {F}, unknown {U}, in flight {IF}: want {want}"))
    if not broker_killed and F + U:
        v.append(Violation(
            "no-failure-without-broker-loss",
            f"{F} post(s) failed and {U} unknown although the broker was never killed "
            f"(faults applied: {sorted(run.faults) or 'none'}; freezes last at most 6 s, under "
            "every client timeout, and reloads and database faults must not fail posts)"))

    # -- the report against Kafka --
    if view.bad_headers:
        v.append(Violation("kafka", f"messages without a valid pinpostd.seq header: "
                           f"{view.bad_headers[:5]}"))
    out_of_range = sorted(s for s in view.by_seq if not 1 <= s <= S)
    if out_of_range:
        v.append(Violation("sequence", f"sequence numbers outside 1..posts_sampled ({S}) in "
                           f"Kafka: {out_of_range[:10]}"))
    if eos and view.partial:
        v.append(Violation("whole-posts", f"{len(view.partial)} partial post(s) visible to a "
                           f"read_committed consumer: {list(view.partial.items())[:10]}"))
    elif len(view.partial) > F + U:
        v.append(Violation("whole-posts", f"{len(view.partial)} partial post(s) in Kafka but "
                           f"only {F} failed + {U} unknown: {list(view.partial.items())[:10]}"))
    if view.dups and (eos or not broker_killed):
        v.append(Violation("duplicates", f"{len(view.dups)} duplicated message(s) "
                           f"(seq, table, copies) {view.dups[:10]}: "
                           + ("exactly_once allows none" if eos else
                              "idempotent delivery allows them only across a broker failover")))
    W = len(view.whole)
    if W < D:
        v.append(Violation("delivered-in-kafka", f"the report counts {D} posts delivered but "
                           f"Kafka holds only {W} whole post(s): {D - W} lost"))
    if W > D + U:
        v.append(Violation("nothing-unreported", f"Kafka holds {W} whole posts but the report "
                           f"counts {D} delivered + {U} unknown: {W - D - U} whole post(s) "
                           "reported failed (or not at all)"))
    logged = delivered_seqs_in_log(log_text)
    missing = sorted(logged - view.whole)
    if missing:
        v.append(Violation("delivered-in-kafka", f"{len(missing)} post(s) logged as delivered "
                           f"are not whole in Kafka: seq {missing[:10]}"))
    for t in TABLES:
        got = view.posts_in[t]
        # Messages the broker may hold uncounted: those the report counts unknown (newer
        # reports count them per topic); otherwise any message of an unknown post, or in
        # idempotent mode of a failed one.
        slack = report["per_topic"][t].get("messages_unknown", U + (0 if eos else F))
        if m[t] > got:
            v.append(Violation("topic-counts", f"per_topic.{t}.messages_delivered {m[t]} but "
                               f"{t} holds messages of only {got} post(s)"
                               + (" (read_committed)" if eos else "")))
        elif got > m[t] + slack:
            v.append(Violation("topic-counts", f"{t} holds messages of {got} posts but "
                               f"per_topic.{t}.messages_delivered is {m[t]} and only {slack} "
                               "message(s) may have been kept uncounted (unknown)"))

    # -- the posts themselves --
    mixed = []
    shifted = []
    for seq, p in sorted(view.by_seq.items()):
        keys = {k for msgs in p.values() for k, _, _ in msgs}
        parts = {part for msgs in p.values() for _, part, _ in msgs}
        if len(keys) != 1 or len(parts) != 1:
            mixed.append((seq, sorted(keys), sorted(parts)))
        elif seq in ref_keys and ref_keys[seq] != next(iter(keys)):
            shifted.append((seq, next(iter(keys)), ref_keys[seq]))
    if mixed:
        v.append(Violation("post-identity", f"{len(mixed)} post(s) whose messages differ in "
                           f"key or partition (seq, keys, partitions): {mixed[:10]}"))
    if shifted:
        v.append(Violation("seeded-sequence", f"{len(shifted)} post(s) differ from what the "
                           f"same seed gives in a dry run on the same data (seq, key in Kafka, "
                           f"key of the dry run): {shifted[:10]}"))
    return v
