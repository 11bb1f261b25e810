"""Bad input a user can hand pinpostd: each case asserts the exit status and the words the
user sees. (More cases, with the database, belong here as they are added.)"""

import os
import struct
import subprocess

import pytest

from conftest import PINPOST_VERIFY, PINPOSTD, sanitizer_logs_as

SECRET = "Planted-Secret-Value-4711"


def run(*args, cwd=None, timeout=60):
    return subprocess.run([PINPOSTD, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def write(path, text, mode=0o600):
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    os.chmod(path, mode)
    return path


CASES = [
    # (name, yaml, extra files {name: (text, mode)}, exit, words)
    ("empty file is the defaults, which need Kafka settings", "", {}, 78, "bootstrap"),
    ("binary", b"\x00\xff\xfe\x00garbage", {}, 78, "YAML syntax error"),
    ("unknown key with a suggestion", "source:\n  hots: x\n", {}, 78,
     "pinpostd.yaml:2: unknown key 'source.hots'; did you mean 'source.host'?"),
    ("unknown section", "sauce: {}\n", {}, 78,
     "unknown key 'sauce'; did you mean 'source"),
    ("wrong type", "source:\n  port: [1]\n", {}, 78,
     "pinpostd.yaml:2: source.port: expected a single value"),
    ("invalid topic", "kafka:\n  topic_prefix: 'no spaces'\n", {}, 78,
     "not a valid Kafka topic name"),
    ("world-writable credentials", "source:\n  credentials: c.yaml\n",
     {"c.yaml": ("RDS_HOST: h\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: " + SECRET +
                 "\nRDS_DATABASE: d\n", 0o666)}, 78, "writable by group or others (mode 0666)"),
    ("group-writable client.properties", "kafka:\n  properties: k.properties\n",
     {"k.properties": ("bootstrap.servers=x:1\n", 0o620)}, 78, "chmod 600"),
    ("alias bomb stays bounded", "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n", {}, 78, "unknown key 'a'"),
]


@pytest.mark.parametrize("name,yaml,files,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_config(tmp_path, name, yaml, files, status, words):
    cfg = write(tmp_path / "pinpostd.yaml", yaml, 0o644)
    for fname, (text, mode) in files.items():
        write(tmp_path / fname, text, mode)
    p = run("-c", str(cfg), "--count", "1")
    assert p.returncode == status, p.stderr
    assert words in p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_directory_as_config(tmp_path):
    p = run("-c", str(tmp_path))
    assert p.returncode == 78 and "is not a regular file" in p.stderr


def test_oversized_config(tmp_path):
    cfg = write(tmp_path / "big.yaml", "# " + "x" * (2 << 20) + "\n", 0o644)
    p = run("-c", str(cfg))
    assert p.returncode == 78 and "more than a configuration file can be" in p.stderr


def secret_check(d, mode, dir_mode=0o755, gid=0, dir_gid=0):
    write(d / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n", mode)
    os.chown(d / "c.yaml", 0, gid)
    cfg = write(d / "pinpostd.yaml", "source:\n  credentials: c.yaml\n", 0o644)
    os.chown(d, 0, dir_gid)
    os.chmod(d, dir_mode)
    p = run("-c", str(cfg), "--check", "--dry-run")
    assert p.returncode == 1  # nothing listens on port 1: unreachable, not misconfigured
    assert SECRET not in p.stdout + p.stderr
    return p.stderr


# Group 100 is "users" on Debian: not root's, anybody may be in it.
@pytest.mark.parametrize("mode,dir_mode,gid,dir_gid", [
    (0o644, 0o755, 0, 0),      # everybody can enter and read
    (0o640, 0o750, 100, 100),  # the file's group enters as the directory's group
    (0o640, 0o701, 100, 0),    # the file's group enters as others
])
def test_secrets_others_can_reach_are_warned_about_but_accepted(open_dir, mode, dir_mode, gid,
                                                                 dir_gid):
    assert f"readable by group or others (mode {mode:04o})" in secret_check(
        open_dir, mode, dir_mode, gid, dir_gid)


def set_acl(path, user_obj, named_uid, named_perm, group_obj, other):
    """A POSIX access ACL with one named user (the xattr's binary form: setfacl may be
    absent): version 2, then (tag, perm, id) entries in tag order."""
    undefined = 0xffffffff
    entries = [(0x01, user_obj, undefined), (0x02, named_perm, named_uid),
               (0x04, group_obj, undefined), (0x10, named_perm | group_obj, undefined),
               (0x20, other, undefined)]
    os.setxattr(path, "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))


def test_secrets_readable_through_an_acl_are_warned_about(open_dir):
    # Mode 0600, but an ACL lets nobody (65534) read it.
    write(open_dir / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n", 0o600)
    set_acl(open_dir / "c.yaml", 6, 65534, 4, 0, 0)
    cfg = write(open_dir / "pinpostd.yaml", "source:\n  credentials: c.yaml\n", 0o644)
    p = run("-c", str(cfg), "--check", "--dry-run")
    assert "readable by group or others" in p.stderr and SECRET not in p.stderr


def test_secrets_behind_a_directory_acl_or_owner_are_warned_about(open_dir):
    # 0604 in a 0700 directory whose ACL lets nobody in; then in one nobody owns.
    inner = open_dir / "inner"
    inner.mkdir()
    write(inner / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n", 0o604)
    cfg = write(inner / "pinpostd.yaml", "source:\n  credentials: c.yaml\n", 0o644)
    os.chmod(inner, 0o700)
    assert "readable by group or others" not in run("-c", str(cfg), "--check",
                                                     "--dry-run").stderr
    set_acl(inner, 7, 65534, 1, 0, 0)
    assert "readable by group or others" in run("-c", str(cfg), "--check", "--dry-run").stderr
    os.removexattr(inner, "system.posix_acl_access")
    os.chmod(inner, 0o700)
    os.chown(inner, 65534, 65534)
    assert "readable by group or others" in run("-c", str(cfg), "--check", "--dry-run").stderr


@pytest.mark.parametrize("mode,dir_mode,gid,dir_gid", [
    (0o644, 0o700, 0, 0),      # nobody else can enter the directory
    (0o440, 0o550, 0, 0),      # systemd's credentials: group root, a directory closed to others
    (0o640, 0o750, 100, 0),    # the file's group is not the directory's, and others stay out
    (0o640, 0o701, 0, 0),      # others may enter, but the file denies them; its group is root's
])
def test_secrets_nobody_else_can_reach_are_not_warned_about(open_dir, mode, dir_mode, gid,
                                                            dir_gid):
    assert "readable by group or others" not in secret_check(open_dir, mode, dir_mode, gid,
                                                             dir_gid)


def kubelet_secret(root, gid, mode=0o400):
    """A Secret volume as the kubelet lays it out: a timestamped directory, a ..data symlink
    to it, each key a symlink through ..data; with fsGroup, root:fsGroup and defaultMode
    | 0440 (what Kubernetes' SetVolumeOwnership does to a read-only volume)."""
    vol = root / "secrets"
    ts = vol / "..2026_11_22_00_00_00.000000001"
    ts.mkdir(parents=True)
    (ts / "db-password").write_text(SECRET + "\n")
    (vol / "..data").symlink_to(ts.name)
    (vol / "db-password").symlink_to("..data/db-password")
    for d in (vol, ts):
        os.chown(d, 0, gid)
        os.chmod(d, 0o2755)
    os.chown(ts / "db-password", 0, gid)
    os.chmod(ts / "db-password", mode | 0o440)
    return vol / "db-password"


@pytest.mark.parametrize("gid,warned", [
    (10001, False),  # fsGroup is the process's group: root gave it to us, nobody else
    (10002, True),   # another group of root's file: its members can read the password
])
def test_kubernetes_secret_volumes_with_fs_group(open_dir, gid, warned):
    """pinpostd as the image's user (10001) reading the password from a Secret volume."""
    pw = kubelet_secret(open_dir, gid)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINPOSTD_")}
    env.update(PINPOSTD_DB_PASSWORD_FILE=str(pw), PINPOSTD_BOOTSTRAP_SERVERS="127.0.0.1:1")
    no_reports = sanitizer_logs_as(env, open_dir / "sanitizer-logs", 10001, 10001)
    p = subprocess.run([PINPOSTD, "--check", "--demo"], capture_output=True, text=True,
                       timeout=60, user=10001, group=10001, extra_groups=[gid], env=env,
                       cwd=open_dir)
    assert ("readable by group or others" in p.stderr) == warned, p.stderr
    assert "cannot open" not in p.stderr and SECRET not in p.stdout + p.stderr
    no_reports()


def test_secrets_never_in_any_output_at_any_verbosity(tmp_path):
    write(tmp_path / "c.yaml", "RDS_HOST: 127.0.0.1\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: "
          + SECRET + "\nRDS_DATABASE: d\n")
    write(tmp_path / "k.properties", "bootstrap.servers=127.0.0.1:1\nsecurity.protocol=SASL_PLAINTEXT\n"
          "sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain."
          f'PlainLoginModule required username="u" password="{SECRET}";\n')
    cfg = write(tmp_path / "pinpostd.yaml", "source:\n  credentials: c.yaml\nkafka:\n"
                "  properties: k.properties\n", 0o644)
    for args in (["--check", "-vv"], ["--check", "--dry-run", "-vvv"]):
        p = run("-c", str(cfg), *args, timeout=120)
        assert SECRET not in p.stdout + p.stderr, args
        assert "redacted" in p.stdout


def test_core_dumps_are_disabled():
    import signal
    import time
    proc = subprocess.Popen([PINPOSTD, "--demo", "--rate", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        limits = open(f"/proc/{proc.pid}/limits").read()
        core = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# ---- the database side: what real tables can hold ----

def test_non_integer_key_column_is_a_configuration_error(env):
    env.load(10)
    env.write_config(extra_source="  tables:\n    geo: {key: country}\n")
    p, _ = env.run("--count", "1", "--rate", "0")
    assert p.returncode == 78, p.stderr
    assert "key column 'country' of table 'geolocation_data' must be an integer column" in p.stderr


def test_renamed_column_is_a_configuration_error(env):
    env.load(10)
    env.sql("ALTER TABLE user_data CHANGE ind user_ind INT NOT NULL")
    p, _ = env.run("--count", "1", "--rate", "0")
    assert p.returncode == 78, p.stderr
    assert "source.tables.user" in p.stderr and "user_ind" not in p.stderr
    assert "Unknown column 'ind'" in p.stderr


def test_null_and_duplicate_keys_are_handled(env):
    from conftest import verify
    env.load(50)
    # geo without a primary key: a NULL key and a second row for key 7.
    env.sql("ALTER TABLE geolocation_data DROP PRIMARY KEY, MODIFY ind INT NULL")
    env.sql("INSERT INTO geolocation_data SELECT NULL, `timestamp`, latitude, longitude, country "
            "FROM geolocation_data WHERE ind = 3")
    env.sql("INSERT INTO geolocation_data SELECT ind, `timestamp`, latitude, longitude, 'Dup' "
            "FROM geolocation_data WHERE ind = 7")
    _, rep = env.run("--count", "300", "--rate", "0", "--seed", "2", check_exit=0)
    posts = verify(env, 300, check_rows=False)
    geo7 = [p["geo"][1] for p in posts.values() if p["geo"][1]["ind"] == 7]
    # One message per post even though key 7 has two rows; never the NULL-keyed row.
    assert all(g["ind"] is not None for p in posts.values() for g in [p["geo"][1]])
    assert geo7, "key 7 was never sampled; pick another seed"
    assert len({g["country"] for g in geo7}) == 1


def test_row_larger_than_the_broker_accepts_is_skipped_and_counted(env):
    env.load(20)
    env.sql("UPDATE pinterest_data SET description = REPEAT('x', 60000) WHERE `index` = 5")
    env.write_config(extra_kafka="  settings:\n    message.max.bytes: 50000\n")
    p, rep = env.run("--count", "200", "--rate", "0", "--seed", "4")
    # The oversized post is refused before any of its messages is sent (never partial),
    # logged with its key, counted as skipped; the run goes on and succeeds.
    assert p.returncode == 0, p.stderr
    skips = p.stderr.count("post 5 skipped: its pin row is 60")
    assert skips >= 1
    assert ("over message.max.bytes (50000); raise message.max.bytes in client.properties "
            "(and the topic's max.message.bytes) to send such rows") in p.stderr
    assert rep["posts_skipped"] == skips and rep["posts_failed"] == 0
    # --count counts posts sent: skipped ones do not use up the 200.
    assert rep["posts_delivered"] == 200 and rep["posts_sampled"] == 200 + skips
    # No gap in the sequence numbers: a consumer still sees posts 1..N whole.
    report = next(env.tmp.glob("report-*.json"))
    v = subprocess.run([PINPOST_VERIFY, "-c", str(env.config),
                        "--timeout", "30", "--run-report", str(report)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    from conftest import consume_all, group_posts
    posts = group_posts(consume_all(env.kafka.bootstrap, env.topics), env.instance)
    assert all(len(p) == 3 for p in posts.values()), "a partial post reached Kafka"
    assert all(int(p["pin"][0]) != 5 for p in posts.values())


def test_conflicting_flags_are_named():
    p = subprocess.run([PINPOSTD, "--rate", "5", "--delay", "0:1"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 64
    assert p.stderr == "pinpostd: --rate and --delay exclude each other\n" \
                       "Try 'pinpostd --help'.\n"
    p = subprocess.run([PINPOSTD, "--stages", "5/s:1s", "--delay", "0:1", "--rate", "3"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 64
    assert p.stderr.startswith("pinpostd: --rate, --delay and --stages exclude each other\n")


def test_unknown_database_is_a_configuration_error(env):
    env.creds.write_text(env.creds.read_text().replace(f"RDS_DATABASE: {env.database}",
                                                       "RDS_DATABASE: no_such_db"))
    p, _ = env.run("--count", "1", "--rate", "0")
    assert p.returncode == 78, p.stderr
    # The server does not tell an account without rights whether the database exists.
    assert (f"configuration error: connecting to MySQL at 127.0.0.1:{env.db.port} as pinpost: "
            "MySQL error 1044: Access denied for user 'pinpost'@'localhost' to database "
            "'no_such_db' (check the database name, RDS_DATABASE or source.database, and that "
            "the account was granted access to it)\n") in p.stderr


def test_invalid_utf8_in_a_row_is_replaced_and_counted(env):
    env.load(5)
    # A binary column can hold any bytes; 0xff 0xfe is not UTF-8.
    env.sql("ALTER TABLE pinterest_data MODIFY title VARBINARY(255)")
    env.sql("UPDATE pinterest_data SET title = UNHEX('41FFFE42')")
    p, rep = env.run("--count", "10", "--rate", "0", "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert rep["invalid_utf8_replaced"] == 20  # two bytes in each of 10 posts
    assert "20 invalid UTF-8 byte(s) in the source were replaced by U+FFFD" in p.stderr
    from conftest import consume_all
    pins = consume_all(env.kafka.bootstrap, env.topics)["pin"]
    assert len(pins) == 10
    assert all(v["title"] == "A\ufffd\ufffdB" for _k, _h, v, _p, _o in pins)
