"""Fixtures of the system tier: pinpostd's shipped units under a real systemd as PID 1.

One image per session: Debian bookworm (localhost/pinpostd-base:bookworm, bootstrapped by
scripts/container from Debian's packages) with systemd and pinpostd installed from the
project's .deb (`make deb`) with apt-get, cached by the content of the .deb and the
Containerfile. One container per test, removed on every exit path. MariaDB and Kafka are
the integration tier's (test/integration/servers.py) on loopback; the containers share the
host's network, so pinpostd in the container reaches them on 127.0.0.1.

When podman cannot run here (`scripts/container check`), the tier is SKIPPED, loudly and
with the reason; with CI=true it FAILS instead."""

import glob
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from message_ids import man_page_message_ids  # noqa: E402
from servers import Kafka, MariaDB, free_port  # noqa: E402

CONTAINER = os.path.join(ROOT, "scripts", "container")
BUILD = os.environ.get("PINPOSTD_BUILD", os.path.join(ROOT, "build"))
KAFKA_LIBS = os.environ.get("KAFKA_LIBS", os.path.join(BUILD, "kafka/libs"))
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SUITE = "bookworm"
PREFIX = "pp-sys"

# MESSAGE_IDs of pinpostd's journal records, as pinpostd(8) lists them ("reload ok" as
# "reload_ok"; "exit with an error" as "fatal").
MID = {name.replace(" ", "_"): mid for name, mid in man_page_message_ids().items()}
MID["fatal"] = MID.pop("exit_with_an_error")

# Lines that must never reach the journal at notice or above.
BROKER_CHATTER = ("Failed to acquire idempotence PID", "Coordinator load in progress")
CRED_WARNING = "readable by group or others"

# podman through scripts/container, and the skip-or-fail rule, shared with the image tests
# of the integration tier (test/integration/containers.py).
from containers import container_ok_fixture, podman  # noqa: E402,F401

container_ok = container_ok_fixture("SYSTEM TIER",
                                    "pinpostd's units were NOT tested under systemd")


def wait_for(what, probe, timeout, interval=0.3, until=None):
    """probe() until truthy (or until(value) is); fail with what and the last value after
    timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if (until(last) if until else last):
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(interval)


# ---- servers ----

@pytest.fixture(scope="session")
def mariadb(container_ok):
    db = MariaDB()
    try:
        db.start()
        yield db
    finally:
        db.destroy()


@pytest.fixture(scope="session")
def kafka(container_ok):
    if not os.path.isdir(KAFKA_LIBS):
        pytest.fail(f"Kafka jars missing in {KAFKA_LIBS}: run `make kafka-jars`")
    k = Kafka(KAFKA_LIBS)
    try:
        k.start()
        yield k
    finally:
        k.destroy()


# ---- the image ----

def find_deb():
    deb = os.environ.get("PINPOSTD_DEB")
    if deb:
        if not os.path.isfile(deb):
            pytest.fail(f"PINPOSTD_DEB={deb}: no such file", pytrace=False)
        return deb
    debs = sorted(glob.glob(os.path.join(BUILD, "deb", "pinpostd_*.deb")), key=os.path.getmtime)
    if not debs:
        pytest.fail(f"no pinpostd .deb in {BUILD}/deb: the system tier installs the package; "
                    f"run `make BUILD={os.path.relpath(BUILD, ROOT)} deb` (or set PINPOSTD_DEB)",
                    pytrace=False)
    return debs[-1]


@pytest.fixture(scope="session")
def image(container_ok):
    """localhost/pp-sys-image:<hash of the base image, Containerfile and .deb>, built once."""
    deb = find_deb()
    base = subprocess.run([CONTAINER, "base", SUITE], capture_output=True, text=True,
                          timeout=900)
    if base.returncode != 0:
        pytest.fail(f"scripts/container base {SUITE} failed:\n{base.stderr[-3000:]}")
    base = base.stdout.strip().splitlines()[-1]
    base_id = podman("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()
    h = hashlib.sha256(base_id.encode())
    for path in (os.path.join(HERE, "Containerfile"), deb):
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    name = f"localhost/{PREFIX}-image:{h.hexdigest()[:16]}"
    if podman("image", "exists", name, check=False).returncode == 0:
        print(f"\nsystem tier: image {name} (cached) with {os.path.basename(deb)}")
        return name
    ctx = tempfile.mkdtemp(prefix=f"{PREFIX}-ctx-")
    try:
        shutil.copy(os.path.join(HERE, "Containerfile"), os.path.join(ctx, "Containerfile"))
        shutil.copy(deb, os.path.join(ctx, "pinpostd.deb"))
        t0 = time.monotonic()
        p = podman("build", "--network", "host", "--build-arg", f"BASE={base}", "-t", name,
                   ctx, check=False, timeout=900)
        if p.returncode != 0:
            pytest.fail(f"building the system image failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        print(f"\nsystem tier: built {name} with {os.path.basename(deb)} in "
              f"{time.monotonic() - t0:.0f} s")
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    # Older images of this tier: only the newest is kept.
    old = podman("images", "--format", "{{.Repository}}:{{.Tag}}", f"localhost/{PREFIX}-image",
                 check=False).stdout.split()
    for o in old:
        if o != name:
            podman("rmi", "-f", o, check=False)
    return name


# ---- a container with systemd as PID 1 ----

class Box:
    """One container running systemd, with helpers to drive and inspect it."""

    def __init__(self, image, label):
        self.name = f"{PREFIX}-{label}-{uuid.uuid4().hex[:6]}"
        podman("run", "-d", "--name", self.name, "--network", "host", "--systemd=always",
               image, "/lib/systemd/systemd")

        def up():
            s = self.sh("systemctl is-system-running", check=False).stdout.strip()
            return s if s in ("running", "degraded") else None
        state = wait_for(f"systemd in {self.name} to boot", up, 90)
        if state == "degraded":
            failed = self.sh("systemctl --failed --no-legend", check=False).stdout
            print(f"{self.name}: degraded at boot: {failed}")

    def remove(self):
        podman("rm", "-f", "-t", "0", self.name, check=False, timeout=120)

    def exec(self, *argv, check=True, input=None, timeout=120):
        args = ["exec"] + (["-i"] if input is not None else []) + [self.name, *argv]
        p = podman(*args, check=False, input=input, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(argv)}: exit {p.returncode}\n"
                                 f"{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        return p

    def sh(self, script, check=True, input=None, timeout=120):
        return self.exec("sh", "-c", script, check=check, input=input, timeout=timeout)

    def write(self, path, text, mode="0600"):
        """A root-owned file; a missing directory is made 0755, as an operator's mkdir."""
        d = os.path.dirname(path)
        self.sh(f"mkdir -p {shlex.quote(d)} && umask 077 && cat > {shlex.quote(path)} && "
                f"chmod {mode} {shlex.quote(path)}", input=text)

    def read(self, path):
        return self.exec("cat", path).stdout

    def systemctl(self, *args, check=True, timeout=180):
        return self.exec("systemctl", *args, check=check, timeout=timeout)

    def show(self, unit, *props):
        out = self.exec("systemctl", "show", unit, "-p", ",".join(props)).stdout
        d = {}
        for line in out.splitlines():
            k, _, v = line.partition("=")
            d[k] = v
        return d

    def prop(self, unit, prop):
        return self.show(unit, prop).get(prop, "")

    def drop_in(self, unit, name, text):
        self.write(f"/etc/systemd/system/{unit}.d/{name}.conf", text, mode="0644")
        self.systemctl("daemon-reload")

    def journal(self, *args):
        """Journal records as dicts (journalctl -o json), after a journal flush."""
        out = self.exec("journalctl", "--no-pager", "-o", "json", *args, check=False).stdout
        recs = []
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("{"):
                recs.append(json.loads(line))
        return recs

    def journal_text(self, *args):
        return self.exec("journalctl", "--no-pager", "-o", "cat", *args, check=False).stdout

    def wait_state(self, unit, state, timeout=90, substate=None):
        def probe():
            s = self.show(unit, "ActiveState", "SubState", "StatusText")
            ok = s.get("ActiveState") == state and (substate is None or s.get("SubState") == substate)
            return s if ok else None
        try:
            return wait_for(f"{unit} to be {state}", probe, timeout)
        except BaseException:
            print(self.journal_text("-u", unit, "-n", "60"))
            raise


@pytest.fixture
def box(request, image):
    label = request.node.name.replace("test_", "")[:24].replace("[", "-").replace("]", "")
    label = "".join(c if c.isalnum() or c == "-" else "-" for c in label)
    b = Box(image, label)
    request.addfinalizer(b.remove)
    return b


# ---- one test's data, topics and configuration ----

def msg_field(rec, key):
    v = rec.get(key)
    if isinstance(v, list):  # binary or repeated fields
        v = v[0]
    return v


class Setup:
    """A database and topic prefix of one test, and pinpostd's configuration for them in
    the container: /etc/pinpostd/ (or /etc/pinpostd/NAME/ for pinpostd@NAME)."""

    def __init__(self, box, mariadb, kafka, instance=None, posts=1000):
        self.box = box
        self.db = mariadb
        self.kafka = kafka
        tag = uuid.uuid4().hex[:10]
        self.database = f"sys_{tag}"
        self.prefix = f"s{tag}"
        self.instance = f"sys-{tag}"
        self.template = instance
        self.unit = f"pinpostd@{instance}.service" if instance else "pinpostd.service"
        self.etc = f"/etc/pinpostd/{instance}" if instance else "/etc/pinpostd"
        self.state = f"/var/lib/pinpostd-{instance}" if instance else "/var/lib/pinpostd"
        self.report = f"{self.state}/report.json"
        self.topics = {t: f"{self.prefix}.{t}" for t in ("pin", "geo", "user")}
        mariadb.create_database(self.database)
        kafka.create_topics(list(self.topics.values()))
        if posts:
            self.load(posts)
        self.write_creds()
        self.write_props()
        self.write_config()

    def load(self, posts, *gen_args):
        """Rows made by the packaged pinpost-gen, into MariaDB through its socket."""
        self.db.load_sql(self.database, [CONTAINER, "podman", "exec", self.box.name,
                                         "pinpost-gen", "--posts", str(posts), *gen_args])

    def sql(self, statement):
        with self.db.root(self.database) as c, c.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()

    def write_creds(self, port=None):
        self.box.write(f"{self.etc}/db_creds.yaml",
                       f"RDS_HOST: 127.0.0.1\nRDS_PASSWORD: {MariaDB.PASSWORD}\n"
                       f"RDS_USER: {MariaDB.USER}\nRDS_DATABASE: {self.database}\n"
                       f"RDS_PORT: {port or self.db.port}\n")

    def write_props(self, bootstrap=None):
        self.box.write(f"{self.etc}/client.properties",
                       f"bootstrap.servers={bootstrap or self.kafka.bootstrap}\n")

    def config_text(self, rate=20, extra="", extra_source=""):
        return ("source:\n  credentials: ${CREDENTIALS_DIRECTORY:-.}/db_creds.yaml\n" +
                extra_source +
                "kafka:\n  properties: ${CREDENTIALS_DIRECTORY:-.}/client.properties\n"
                f"  topic_prefix: {self.prefix}\n"
                f"emulation:\n  rate: {rate}\n"
                f"service:\n  instance: {self.instance}\n  summary_interval: 2\n"
                f"  report: {self.report}\n" + extra)

    def write_config(self, text=None, **kw):
        self.box.write(f"{self.etc}/pinpostd.yaml", text if text is not None else
                       self.config_text(**kw), mode="0644")

    def status(self):
        return self.box.prop(self.unit, "StatusText")

    def delivered(self):
        s = self.status()
        if s.startswith("delivered "):
            return int(s.split()[1].rstrip(","))
        return 0

    def wait_delivered(self, n, timeout=120):
        return wait_for(f"{self.unit}: {n} posts delivered (StatusText)",
                        lambda: self.delivered() >= n and self.status(), timeout)

    def read_report(self):
        """The run report pinpostd wrote into its StateDirectory (DynamicUser: under
        /var/lib/private, reached through the /var/lib/pinpostd symlink)."""
        return json.loads(self.box.read(self.report))

    def verify(self, rows=True):
        """pinpost-verify (the packaged one) over the three topics, with the run report:
        every post 1..N exactly once and whole (and equal to its rows)."""
        vdir = f"/root/verify-{self.prefix}"
        self.box.write(f"{vdir}/db_creds.yaml",
                       f"RDS_HOST: 127.0.0.1\nRDS_PASSWORD: {MariaDB.PASSWORD}\n"
                       f"RDS_USER: {MariaDB.USER}\nRDS_DATABASE: {self.database}\n"
                       f"RDS_PORT: {self.db.port}\n")
        self.box.write(f"{vdir}/pinpostd.yaml",
                       "source:\n  credentials: db_creds.yaml\n"
                       f"kafka:\n  bootstrap_servers: {self.kafka.bootstrap}\n"
                       f"  topic_prefix: {self.prefix}\n", mode="0600")
        args = ["pinpost-verify", "-c", f"{vdir}/pinpostd.yaml", "--json", "--timeout", "30",
                "--run-report", self.report]
        if rows:
            args.append("--rows")
        p = self.box.exec(*args, check=False, timeout=300)
        result = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else None
        assert p.returncode == 0 and result and result["result"] == "verified", \
            f"pinpost-verify: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        return result


@pytest.fixture
def setup(box, mariadb, kafka):
    return Setup(box, mariadb, kafka)


# ---- a TCP forwarder: a port that answers only once the test opens it ----

class Forwarder:
    """Listens on a free loopback port only after open(); forwards to target, the replies
    at most `rate` bytes per second when given (a slow link)."""

    def __init__(self, target_host, target_port, rate=None):
        self.target = (target_host, target_port)
        self.rate = rate
        self.port = free_port()
        self.sock = None
        self.stopped = threading.Event()

    def open(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            for a, b, rate in ((c, u, None), (u, c, self.rate)):
                threading.Thread(target=self._pipe, args=(a, b, rate), daemon=True).start()

    @staticmethod
    def _pipe(a, b, rate):
        try:
            t0, sent = time.monotonic(), 0
            while True:
                data = a.recv(16384 if rate else 65536)
                if not data:
                    break
                b.sendall(data)
                if rate:
                    sent += len(data)
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stopped.set()
        if self.sock:
            self.sock.close()
