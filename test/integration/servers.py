"""Real servers for the integration tier: MariaDB and Apache Kafka (KRaft), each in a
temporary directory on loopback ports, started and stopped by the test harness."""

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pymysql


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, probe, timeout, interval=0.2, proc=None, log=None):
    """Call probe() until it returns a truthy value; fail after timeout seconds, or at
    once when proc has exited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}\n{tail(log)}")
        try:
            value = probe()
            if value:
                return value
        except Exception as e:  # the server is still coming up
            last = e
        time.sleep(interval)
    raise RuntimeError(f"{what}: not ready after {timeout} s (last error: {last})\n{tail(log)}")


def tail(path, n=40):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


def stop_process(proc, timeout=30):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(d, san, ca=None):
    """In directory d: a CA (or the given one: {"ca", "ca_key"}) and a server key and
    certificate it signed, with the subjectAltName san. Returns the paths."""
    os.makedirs(d, exist_ok=True)
    if ca is None:
        ca = {"ca": os.path.join(d, "ca.pem"), "ca_key": os.path.join(d, "ca.key")}
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca["ca_key"],
                 "-out", ca["ca"], "-days", "2", "-subj", "/CN=pinpostd test CA")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=pinpostd test server")
    _openssl("x509", "-req", "-in", csr, "-CA", ca["ca"], "-CAkey", ca["ca_key"],
             "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return {"ca": ca["ca"], "ca_key": ca["ca_key"], "key": key, "crt": crt}


class _Server:
    """A server process of the harness, with its files in self.dir."""

    proc = None
    dir = None
    stop_timeout = 30

    def stop(self):
        stop_process(self.proc, timeout=self.stop_timeout)
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MariaDB(_Server):
    """A private mariadbd: data directory and unix socket in a temp dir, TCP on a free
    loopback port. root connects over the socket; tests use an ordinary user with a
    password over TCP, as pinpostd would in production."""

    USER = "pinpost"
    PASSWORD = "s3cret-Pa55"

    def __init__(self, buffer_pool="128M"):
        self.buffer_pool = buffer_pool
        self.dir = tempfile.mkdtemp(prefix="pinpostd-mariadb-")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.proc = None
        self.tls = self._make_certs()
        user = os.environ.get("USER") or "root"
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             f"--user={user}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        user = os.environ.get("USER") or "root"
        self.proc = subprocess.Popen(
            [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults",
             f"--datadir={self.datadir}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--log-error={self.log}",
             f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}", f"--user={user}",
             f"--innodb-buffer-pool-size={self.buffer_pool}", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
             "--max-connections=200", f"--tmpdir={self.dir}",
             f"--ssl-ca={self.tls['ca']}", f"--ssl-cert={self.tls['active_crt']}",
             f"--ssl-key={self.tls['active_key']}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("MariaDB", lambda: self.root().close() or True, 60, proc=self.proc,
                   log=self.log)

    def _make_certs(self):
        """TLS material: the served certificate (names 127.0.0.1 and localhost), one from
        the same CA naming another host, and an unrelated CA."""
        d = os.path.join(self.dir, "tls")
        good = make_certs(os.path.join(d, "good"), "IP:127.0.0.1,DNS:localhost")
        wrong = make_certs(os.path.join(d, "wrong-name"), "DNS:db.example.internal", ca=good)
        other = make_certs(os.path.join(d, "other"), "IP:127.0.0.1,DNS:localhost")
        tls = {"ca": good["ca"], "other_ca": other["ca"], "good": good, "wrong-name": wrong,
               "active_crt": os.path.join(d, "active.crt"),
               "active_key": os.path.join(d, "active.key")}
        shutil.copy(good["crt"], tls["active_crt"])
        shutil.copy(good["key"], tls["active_key"])
        return tls

    def serve_cert(self, name):
        """Serve the certificate "good" or "wrong-name" from now on (FLUSH SSL)."""
        shutil.copy(self.tls[name]["crt"], self.tls["active_crt"])
        shutil.copy(self.tls[name]["key"], self.tls["active_key"])
        with self.root() as c, c.cursor() as cur:
            cur.execute("FLUSH SSL")

    def root(self, database=None):
        return pymysql.connect(unix_socket=self.socket, user="root", database=database,
                               charset="utf8mb4", autocommit=True)

    def user(self, database):
        return pymysql.connect(host="127.0.0.1", port=self.port, user=self.USER,
                               password=self.PASSWORD, database=database, charset="utf8mb4",
                               autocommit=True)

    def create_database(self, name):
        with self.root() as c, c.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            cur.execute(f"CREATE USER IF NOT EXISTS '{self.USER}'@'%' "
                        f"IDENTIFIED BY '{self.PASSWORD}'")
            cur.execute(f"CREATE USER IF NOT EXISTS '{self.USER}'@'localhost' "
                        f"IDENTIFIED BY '{self.PASSWORD}'")
            cur.execute(f"GRANT ALL ON `{name}`.* TO '{self.USER}'@'%'")
            cur.execute(f"GRANT ALL ON `{name}`.* TO '{self.USER}'@'localhost'")

    def load_sql(self, database, sql_stream_cmd):
        """Pipe the output of a command (pinpost-gen) into the mariadb client."""
        gen = subprocess.Popen(sql_stream_cmd, stdout=subprocess.PIPE)
        client = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", database],
            stdin=gen.stdout, capture_output=True)
        gen.stdout.close()
        if gen.wait() != 0 or client.returncode != 0:
            raise RuntimeError(f"loading data failed: {client.stderr.decode()}")


class Kafka(_Server):
    """A single-node Apache Kafka (broker + KRaft controller) from the jars Maven
    resolved, with its log dir in a temp dir and three client listeners on free loopback
    ports: PLAINTEXT, SASL_PLAINTEXT and SASL_SSL (SCRAM-SHA-256/512 and PLAIN; the TLS
    certificate is signed by a CA made with openssl at start-up, `ca_pem`)."""

    stop_timeout = 60
    SASL_USER = "alice"
    SASL_PASSWORD = "alice-secret"

    def __init__(self, libs, reauth_ms=None, jmx=False):
        """reauth_ms: connections.max.reauth.ms of the OAUTHBEARER (MSK IAM stand-in)
        mechanism on both SASL listeners (KIP-368: the broker tells the client the session
        lifetime, the lesser of this and the token's, and closes a connection that goes on
        without re-authenticating); None leaves it off, as Kafka's default. jmx: serve the
        broker's JMX on a loopback port (self.jmx_port) for socket_metrics()."""
        self.libs = libs
        self.reauth_ms = reauth_ms
        self.jmx_port = free_port() if jmx else None
        self.dir = tempfile.mkdtemp(prefix="pinpostd-kafka-")
        self.port = free_port()
        self.sasl_port = free_port()
        self.ssl_port = free_port()
        self.controller_port = free_port()
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
        self.ssl_bootstrap = f"127.0.0.1:{self.ssl_port}"
        self.ca_pem, server_pem = self._make_certs()
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                 f'user_{self.SASL_USER}="{self.SASL_PASSWORD}";')
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},"
                         f"SASL_SSL://127.0.0.1:{self.ssl_port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                                    f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},"
                                    f"SASL_SSL://127.0.0.1:{self.ssl_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
                                              "SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN,OAUTHBEARER",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": server_pem,
            "log.dirs": os.path.join(self.dir, "logs"),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "24",
            "log.segment.bytes": "67108864",
        }
        self.token_log = os.path.join(self.dir, "msk-tokens.log")
        self.validator_dir = self._build_validator()
        oauth = ("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
                 f'unsecuredLoginStringClaim_sub="broker" logFile="{self.token_log}";')
        for listener in ("sasl_plaintext", "sasl_ssl"):
            props[f"listener.name.{listener}.oauthbearer.sasl.jaas.config"] = oauth
            props[f"listener.name.{listener}.oauthbearer.sasl.server.callback.handler.class"] = \
                "pinpostd.test.MskIamTokenValidator"
            props[f"listener.name.{listener}.scram-sha-256.sasl.jaas.config"] = scram
            props[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"] = scram
            props[f"listener.name.{listener}.plain.sasl.jaas.config"] = plain
            if reauth_ms is not None:
                props[f"listener.name.{listener}.oauthbearer.connections.max.reauth.ms"] = \
                    str(reauth_ms)
        self.config = os.path.join(self.dir, "server.properties")
        with open(self.config, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in props.items())
        with open(os.path.join(self.dir, "log4j.properties"), "w") as f:
            f.write("log4j.rootLogger=WARN, file\n"
                    "log4j.appender.file=org.apache.log4j.FileAppender\n"
                    f"log4j.appender.file.File={self.log}\n"
                    "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
                    "log4j.logger.kafka=INFO\n")
        # Like Kafka's own Uuid.randomUuid: an id starting with '-' would read as an option.
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        creds = []
        for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            creds += ["--add-scram",
                      f"{mech}=[name={self.SASL_USER},password={self.SASL_PASSWORD}]"]
        subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                                  "-c", self.config, *creds),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _build_validator(self):
        """Compile the MSK IAM stand-in (test/kafka/validator) against the broker's jars."""
        src = os.path.join(os.path.dirname(__file__), "..", "kafka", "validator",
                           "MskIamTokenValidator.java")
        out = os.path.join(self.dir, "validator")
        subprocess.run(["javac", "-nowarn", "-cp", os.path.join(self.libs, "*"), "-d", out, src],
                       check=True, capture_output=True)
        return out

    def _make_certs(self):
        """A CA and a server certificate for 127.0.0.1/localhost, with openssl."""
        c = make_certs(os.path.join(self.dir, "tls"), "IP:127.0.0.1,DNS:localhost")
        pkcs8 = os.path.join(self.dir, "tls", "server.pk8")
        _openssl("pkcs8", "-topk8", "-nocrypt", "-in", c["key"], "-out", pkcs8)
        server_pem = os.path.join(self.dir, "tls", "server.pem")
        with open(server_pem, "w") as out:
            for part in (pkcs8, c["crt"], c["ca"]):
                out.write(open(part).read())
        return c["ca"], server_pem

    def _java(self, main, *args):
        return ["java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC",
                f"-Dlog4j.configuration=file:{os.path.join(self.dir, 'log4j.properties')}",
                "-cp", os.path.join(self.libs, "*") + os.pathsep + self.validator_dir, main, *args]

    def _jmx_flags(self):
        if not self.jmx_port:
            return []
        return ["-Dcom.sun.management.jmxremote",
                f"-Dcom.sun.management.jmxremote.port={self.jmx_port}",
                f"-Dcom.sun.management.jmxremote.rmi.port={self.jmx_port}",
                "-Dcom.sun.management.jmxremote.host=127.0.0.1",
                "-Djava.rmi.server.hostname=127.0.0.1",
                "-Dcom.sun.management.jmxremote.local.only=true",
                "-Dcom.sun.management.jmxremote.authenticate=false",
                "-Dcom.sun.management.jmxremote.ssl=false"]

    def socket_metrics(self, listener="SASL_SSL"):
        """The broker's socket-server metrics of one listener, summed over its network
        processors, read over JMX (needs jmx=True): {"connection-creation-total": n,
        "successful-reauthentication-total": n, "expired-connections-killed-count": n,
        ...}: each attribute of kafka.server:type=socket-server-metrics for it."""
        assert self.jmx_port, "Kafka(jmx=True) serves JMX"
        url = f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{self.jmx_port}/jmxrmi"
        name = f"kafka.server:type=socket-server-metrics,listener={listener},networkProcessor=*"
        p = subprocess.run(
            ["java", "-Xmx128m", "-cp", os.path.join(self.libs, "*"),
             "org.apache.kafka.tools.JmxTool", "--jmx-url", url, "--object-name", name,
             "--one-time", "true", "--report-format", "properties"],
            capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"JmxTool: exit {p.returncode}: {p.stderr[-2000:]}")
        out = {}
        for line in p.stdout.splitlines():
            # kafka.server:type=socket-server-metrics,listener=L,networkProcessor=N:ATTR=V
            key, sep, value = line.rpartition("=")
            if not sep or "socket-server-metrics" not in key:
                continue
            attr = key.rsplit(":", 1)[-1]
            try:
                v = float(value)
            except ValueError:
                continue
            if v == v:  # not NaN (an average with no samples yet)
                out[attr] = out.get(attr, 0) + v
        return out

    def start(self):
        from confluent_kafka.admin import AdminClient
        cmd = self._java("kafka.Kafka", self.config)
        cmd[1:1] = self._jmx_flags()
        self.proc = subprocess.Popen(cmd,
                                     stdout=open(os.path.join(self.dir, "stdout.log"), "ab"),
                                     stderr=subprocess.STDOUT)

        def ready():
            admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
            md = admin.list_topics(timeout=2)
            return len(md.brokers) >= 1
        wait_until("Kafka", ready, 120, interval=0.5, proc=self.proc, log=self.log)

    def create_topics(self, names, partitions=3):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        for f in futures.values():
            f.result(30)
