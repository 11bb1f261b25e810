"""Seeded random lifecycle schedules for test_lifecycle.py: what happens to a running
pinpostd and to the servers under it, and when. Everything follows from the seed, so a
failing schedule is replayed by its seed alone (the interleaving with the daemon's own
timing may differ; the invariants do not depend on it)."""

import random
from dataclasses import dataclass, field

MODES = ("idempotent", "exactly_once")

# Configurations a SIGHUP may load. The valid ones change the pace; the refused ones
# must be rejected while the running configuration goes on.
VALID = ("rate", "delay")
REFUSED = ("syntax_error", "unknown_key", "bad_value", "unknown_section", "unreachable_db")

# Longest SIGSTOP of a server: well under every client timeout (librdkafka's
# request.timeout.ms 30 s, the MySQL read timeout 30 s), so a freeze alone never fails a
# post, and the test can demand that.
MAX_FREEZE_S = 6.0


@dataclass(order=True)
class Action:
    t: float  # seconds after pinpostd was started
    kind: str  # hup, term, db_kill, db_restart, db_stop, db_cont, kafka_kill, ...
    arg: dict = field(default_factory=dict, compare=False)

    def describe(self):
        extra = " ".join(f"{k}={v}" for k, v in self.arg.items())
        return f"t={self.t:6.2f}s  {self.kind}{'  ' + extra if extra else ''}"


@dataclass
class Schedule:
    seed: int
    mode: str
    seconds: float
    pace: dict  # the starting emulation: {"rate": R} or {"delay": "MIN:MAX"}
    start_unreachable_db: bool  # start with a database port nothing listens on
    actions: list

    def describe(self):
        head = (f"seed {self.seed}: delivery {self.mode}, {self.seconds:g} s, start pace "
                f"{pace_text(self.pace)}"
                f"{', start with an unreachable database' if self.start_unreachable_db else ''}")
        return "\n".join([head] + ["  " + a.describe() for a in self.actions])


def pace_text(pace):
    return f"rate {pace['rate']}/s" if "rate" in pace else f"delay {pace['delay']} s"


def random_pace(rng):
    # Fast enough that transactions are open most of the time, slow enough for a
    # sanitizer build on a shared 2-core machine; sometimes slow enough (under 5 posts/s)
    # that pinpostd logs each delivered post, which the checker then follows one by one.
    if rng.random() < 0.2:
        return {"delay": rng.choice(["0.1:0.4", "0.2:0.5"])}
    if rng.random() < 0.2:
        return {"delay": rng.choice(["0.005:0.02", "0.01:0.03"])}
    # From 200 posts/s up the sampler fetches several keys per round trip (rate / 100),
    # so a reload or an outage can land inside a batch.
    return {"rate": rng.choice([20, 50, 100, 250, 400, 600])}


def _episodes(rng, seconds, kinds):
    """Non-overlapping fault episodes of one server: (start, end, kind)."""
    out = []
    t = rng.uniform(0.5, 3.0)
    while t < seconds and len(out) < 3:
        if rng.random() < 0.5:
            kind = rng.choice(kinds)
            if kind.endswith("kill"):
                down = rng.uniform(0.0, 4.0)
            else:
                down = rng.uniform(0.5, MAX_FREEZE_S)
            out.append((t, t + down, kind))
            t += down
        t += rng.uniform(2.0, seconds / 2)
    return out


def generate(seed, seconds):
    """The schedule of a seed. The mode alternates with the seed's parity so that
    consecutive seeds cover both."""
    rng = random.Random(seed)
    mode = MODES[seed % 2]
    start_unreachable = rng.random() < 0.2
    actions = []
    t0 = 0.0
    if start_unreachable:
        # The first SIGHUP fixes the database address while start-up waits for it.
        t0 = rng.uniform(1.5, 4.0)
        actions.append(Action(t0, "hup", {"config": "rate", "rate": 100, "startup": True}))
        t0 += 1.0
    # A broker kill -9 costs a broker start-up (10-20 s of JVM on this machine): at most
    # one per schedule, in about two fifths of them; the other broker faults are freezes.
    kill_broker = rng.random() < 0.4
    for i, (start, end, kind) in enumerate(_episodes(rng, seconds - t0, ["kafka_stop"])):
        if i == 0 and kill_broker:
            kind, end = "kafka_kill", start + rng.uniform(0.0, 4.0)
        undo = {"kafka_kill": "kafka_restart", "kafka_stop": "kafka_cont"}[kind]
        actions += [Action(t0 + start, kind), Action(t0 + end, undo)]
    for start, end, kind in _episodes(rng, seconds - t0, ["db_kill", "db_stop"]):
        undo = {"db_kill": "db_restart", "db_stop": "db_cont"}[kind]
        actions += [Action(t0 + start, kind), Action(t0 + end, undo)]
    # SIGTERM at a random moment: now and then during start-up, mostly later, sometimes
    # while a server is down or frozen (the final drain has to live with it).
    if rng.random() < 0.12 and not start_unreachable:
        term = rng.uniform(0.2, 2.5)
    else:
        term = rng.uniform(max(t0 + 2.0, seconds * 0.5), seconds)
    actions.append(Action(term, "term"))
    # Reloads while it runs, the first always a valid one (in exactly_once mode the one
    # that must hand the transactional.id over without losing the open transaction);
    # now and then one more after SIGTERM, which must change nothing.
    for i in range(rng.randint(1, 4)):
        t = rng.uniform(t0 + 0.5, max(t0 + 1.0, term - 0.5))
        if i > 0 and rng.random() < 0.5:
            cfg = {"config": rng.choice(REFUSED)}
        else:
            pace = random_pace(rng)
            cfg = {"config": "rate" if "rate" in pace else "delay", **pace}
        actions.append(Action(t, "hup", cfg))
    if rng.random() < 0.15:
        actions.append(Action(term + rng.uniform(0.0, 1.0), "hup",
                              {"config": rng.choice(VALID + REFUSED), "rate": 50,
                               "delay": "0.01:0.03"}))
    actions.sort()
    return Schedule(seed, mode, seconds, random_pace(rng), start_unreachable, actions)
