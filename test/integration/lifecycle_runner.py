"""Applies a lifecycle schedule (lifecycle_schedule.py) to a real pinpostd and to the
harness's shared MariaDB and Kafka: SIGHUPs with rewritten configurations, SIGSTOP and
SIGCONT, kill -9 and restart of either server, SIGTERM. Whatever happens, every server
it froze is thawed and every server it killed is running again when run() returns."""

import os
import signal
import subprocess
import threading
import time

from conftest import PINPOSTD
from servers import free_port

# A SIGHUP pinpostd is waiting on during start-up must be acted on this soon: the new
# configuration is read at once and a reachable database answers in milliseconds.
STARTUP_HUP_BOUND_S = 30.0
# After SIGTERM: kafka.flush_timeout (60 s) of drain, plus slack for a broker start-up.
EXIT_BOUND_S = 150.0
APPLIED = "configuration reloaded"
REFUSED = "reload failed: keeping the running configuration"


def config_text(env, mode, pace, creds="db_creds.yaml"):
    delivery = ("  delivery: exactly_once\n  transaction_interval: 0.1\n"
                if mode == "exactly_once" else "  delivery: idempotent\n")
    emulation = (f"  rate: {pace['rate']}\n" if "rate" in pace
                 else f"  delay: \"{pace['delay']}\"\n")
    return (f"source:\n  credentials: {creds}\n"
            f"kafka:\n  properties: client.properties\n  topic_prefix: {env.prefix}\n"
            f"  flush_timeout: 60\n{delivery}"
            f"service:\n  instance: {env.instance}\n  summary_interval: 2\n"
            f"emulation:\n{emulation}")


def refused_config_text(env, mode, kind):
    """A configuration pinpostd must refuse on reload, keeping the running one."""
    good = config_text(env, mode, {"rate": 100})
    if kind == "syntax_error":
        return good.replace("source:\n", "source: [unclosed\n", 1)
    if kind == "unknown_key":
        return good + "  rat: 50\n"
    if kind == "bad_value":
        return good.replace("  rate: 100\n", "  rate: -5\n")
    if kind == "unknown_section":
        return good + "emulaton:\n  rate: 50\n"
    if kind == "unreachable_db":
        return config_text(env, mode, {"rate": 100}, creds="db_creds_unreachable.yaml")
    raise ValueError(kind)


def write_atomically(path, text):
    """pinpostd may read the file at any moment: it sees the old text or the new."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Server:
    """One shared server and what the schedule did to it: up, stopped, killed or
    restarting (a start-up in a thread, so the schedule goes on meanwhile)."""

    def __init__(self, name, server):
        self.name = name
        self.server = server
        self.state = "up"
        self.thread = None
        self.error = None

    def settle(self):
        """Returns what changed, for the record of what was done."""
        if self.state == "restarting" and not self.thread.is_alive():
            self.state = "up" if self.error is None else "killed"
            return (f"{self.name} running again after {time.monotonic() - self.since:.1f} s"
                    if self.error is None else f"{self.name} failed to start: {self.error}")
        return None

    def stop(self):
        os.kill(self.server.proc.pid, signal.SIGSTOP)
        self.state = "stopped"

    def cont(self):
        os.kill(self.server.proc.pid, signal.SIGCONT)
        self.state = "up"

    def kill(self):
        self.server.kill()
        self.state = "killed"

    def restart(self):
        self.error = None

        def start():
            try:
                self.server.start()
            except Exception as e:  # reported by restore()
                self.error = e
        self.since = time.monotonic()
        self.thread = threading.Thread(target=start, name=f"restart-{self.name}", daemon=True)
        self.state = "restarting"
        self.thread.start()

    def restore(self):
        """Back to a healthy running server, whatever state the schedule left."""
        if self.state == "stopped" and self.server.proc is not None:
            os.kill(self.server.proc.pid, signal.SIGCONT)
        if self.thread is not None:
            self.thread.join(180)
        for _ in range(2):
            proc = self.server.proc
            if proc is not None and proc.poll() is None and self.error is None:
                break
            self.error = None
            self.server.kill()
            try:
                self.server.start()
            except Exception as e:
                self.error = e
        self.state = "up"
        if self.error is not None:
            raise RuntimeError(f"could not restart the shared {self.name}: {self.error}")


class LifecycleRun:
    """One schedule against one pinpostd. After run(): status, report path, the log, the
    SIGHUPs with their outcomes and the list of what was actually done."""

    def __init__(self, env, schedule):
        self.env = env
        self.s = schedule
        self.report = env.tmp / "lifecycle-report.json"
        self.log_path = env.tmp / "pinpostd.log"
        self.executed = []  # (t, text)
        self.hups = []  # {"config", "t", "outcome", "outcome_t", "startup"}
        self.faults = set()  # fault kinds actually applied: kafka_kill, db_stop, ...
        self.status = None
        self.exited_t = None
        self.term_t = None
        self.killed_by_test = False
        self.servers = {"db": _Server("MariaDB", env.db), "kafka": _Server("Kafka", env.kafka)}
        self._log_pos = 0
        self._log_tail = b""
        self._outcomes = []  # ("applied" | "refused", t)
        self._t0 = None

    # -- bookkeeping --

    def now(self):
        return time.monotonic() - self._t0

    def note(self, text):
        self.executed.append((self.now(), text))

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _read_log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self._log_pos)
            data = f.read()
        self._log_pos += len(data)
        lines = (self._log_tail + data).split(b"\n")
        self._log_tail = lines.pop()
        for line in lines:
            text = line.decode(errors="replace")
            if APPLIED in text:
                self._outcomes.append(("applied", self.now()))
            elif REFUSED in text:
                self._outcomes.append(("refused", self.now()))
        for h in self.hups:
            if h["outcome"] is None and len(self._outcomes) > h["index"]:
                h["outcome"], h["outcome_t"] = self._outcomes[h["index"]]

    def _pending_hup(self):
        return next((h for h in self.hups if h["outcome"] is None), None)

    # -- actions --

    def _hup(self, a):
        cfg = a.arg["config"]
        if cfg in ("rate", "delay"):
            text = config_text(self.env, self.s.mode, {cfg: a.arg[cfg]})
        else:
            text = refused_config_text(self.env, self.s.mode, cfg)
        write_atomically(self.env.config, text)
        self.hups.append({"config": cfg, "t": self.now(), "outcome": None, "outcome_t": None,
                          "startup": bool(a.arg.get("startup")), "index": len(self._outcomes)})
        self.proc.send_signal(signal.SIGHUP)
        self.note(f"SIGHUP with config {cfg} {a.arg}")

    def _server_action(self, a):
        name, verb = a.kind.split("_")
        srv = self.servers[name]
        change = srv.settle()
        if change:
            self.note(change)
        want = {"stop": "up", "kill": "up", "cont": "stopped", "restart": "killed"}[verb]
        if srv.state != want:
            self.note(f"{a.kind} skipped: {srv.name} is {srv.state}")
            return
        getattr(srv, verb)()
        if verb in ("stop", "kill"):
            self.faults.add(a.kind)
        self.note(f"{a.kind} done")

    def _apply(self, a):
        """Apply a due action; False to keep it queued (a SIGHUP waits for the previous
        one's outcome, so that each reload reads the configuration written for it)."""
        alive = self.proc.poll() is None
        if a.kind.endswith(("_cont", "_restart")):
            self._server_action(a)
        elif not alive or self.term_t is not None and a.kind in ("hup", "term"):
            self.note(f"{a.kind} dropped: pinpostd {'stopping' if alive else 'exited'}")
        elif a.kind == "hup":
            if self._pending_hup():
                return False
            self._hup(a)
            if a.arg.get("startup"):
                self._wait_startup_hup()
        elif a.kind == "term":
            self.proc.send_signal(signal.SIGTERM)
            self.term_t = self.now()
            self.note("SIGTERM")
        else:
            self._server_action(a)
        return True

    def _wait_startup_hup(self):
        """Start-up waits for an unreachable database; the SIGHUP just sent names a
        reachable one. Hold the schedule (no fault is due yet) until it is acted on, or
        for STARTUP_HUP_BOUND_S."""
        h = self.hups[-1]
        deadline = time.monotonic() + STARTUP_HUP_BOUND_S
        start = time.monotonic()
        while h["outcome"] is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.1)
            self._read_log()
        self._shift += time.monotonic() - start

    # -- the run --

    def run(self):
        env = self.env
        (env.tmp / "db_creds_unreachable.yaml").write_text(
            env.creds.read_text().replace(f"RDS_PORT: {env.db.port}", f"RDS_PORT: {free_port()}"))
        creds = "db_creds_unreachable.yaml" if self.s.start_unreachable_db else "db_creds.yaml"
        write_atomically(env.config, config_text(env, self.s.mode, self.s.pace, creds))
        queue = list(self.s.actions)
        self._shift = 0.0
        log = open(self.log_path, "wb")
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [PINPOSTD, "-c", str(env.config), "--report", str(self.report), "--seed",
             str(self.s.seed)], stdout=subprocess.DEVNULL, stderr=log)
        try:
            while True:
                time.sleep(0.05)
                self._read_log()
                if self.exited_t is None and self.proc.poll() is not None:
                    self.exited_t = self.now()
                    self.status = self.proc.returncode
                    self.note(f"pinpostd exited with {self.status}")
                for srv in self.servers.values():
                    change = srv.settle()
                    if change:
                        self.note(change)
                t = self.now() - self._shift
                for a in [a for a in queue if a.t <= t or self.exited_t is not None]:
                    if self._apply(a):
                        queue.remove(a)
                if self.exited_t is not None and not queue:
                    break
                if self.term_t is not None and self.now() - self.term_t > EXIT_BOUND_S:
                    self.proc.kill()
                    self.proc.wait()
                    self.killed_by_test = True
                    self.note(f"pinpostd still running {EXIT_BOUND_S:g} s after SIGTERM: "
                              "killed by the test")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self.killed_by_test = True
            log.close()
            errors = []
            for srv in self.servers.values():
                try:
                    srv.restore()
                except Exception as e:
                    errors.append(str(e))
            if errors:
                raise RuntimeError("; ".join(errors))
        self._read_log()
