"""The PINPOSTD_* environment variables (pinpostd.yaml(5), ENVIRONMENT): the settings a
container needs without a mounted file, checked as the file's values are. Order: the
file, then the environment, then the command line."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import PINPOSTD, MariaDB, sanitizer_logs_as, verify


def base_env(env, **extra):
    """The process environment with only the database and broker from PINPOSTD_* vars."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PINPOSTD_")}
    pw = env.tmp / "db_password"
    pw.write_text(MariaDB.PASSWORD + "\n")
    os.chmod(pw, 0o600)
    e.update({
        "PINPOSTD_BOOTSTRAP_SERVERS": env.kafka.bootstrap,
        "PINPOSTD_DB_HOST": "127.0.0.1",
        "PINPOSTD_DB_PORT": str(env.db.port),
        "PINPOSTD_DB_USER": MariaDB.USER,
        "PINPOSTD_DB_DATABASE": env.database,
        "PINPOSTD_DB_PASSWORD_FILE": str(pw),
        "PINPOSTD_TOPIC_PREFIX": env.prefix,
        "PINPOSTD_INSTANCE": env.instance,
    })
    e.update(extra)
    return e


def run_env(env, cfg_text, e, *args, timeout=120):
    cfg = env.tmp / "env-only.yaml"
    cfg.write_text(cfg_text)
    return subprocess.run([PINPOSTD, "-c", str(cfg), *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def test_a_run_configured_by_the_environment_alone_is_verified_whole(env):
    env.load(50)
    report = env.tmp / "r.json"
    p = run_env(env, "", base_env(env, PINPOSTD_REPORT=str(report)), "--count", "20",
                "--rate", "0")
    assert p.returncode == 0, p.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep["posts_delivered"] == 20 and rep["instance"] == env.instance
    verify(env, 20)


def test_the_environment_overrides_the_file_and_flags_override_the_environment(env):
    env.load(20)
    flag_report, env_report = env.tmp / "flag.json", env.tmp / "env.json"
    # The file names another database, instance and prefix: the environment wins.
    text = ("source:\n  host: 127.0.0.9\n  database: not_this_one\n"
            "kafka:\n  topic_prefix: notthisprefix\n"
            "service:\n  instance: from-the-file\n  report: file.json\n")
    p = run_env(env, text, base_env(env, PINPOSTD_REPORT=str(env_report)), "--count", "5",
                "--rate", "0", "--report", str(flag_report))
    assert p.returncode == 0, p.stderr[-3000:]
    assert flag_report.exists() and not env_report.exists()
    assert not (env.tmp / "file.json").exists()
    verify(env, 5)


def test_shards_from_the_environment_take_the_index_from_job_completion_index(env):
    env.load(30)
    for i in range(2):
        p = run_env(env, "", base_env(env, PINPOSTD_SHARDS="2", JOB_COMPLETION_INDEX=str(i)),
                    "--count", "9", "--rate", "0", "--dry-run")
        assert p.returncode == 0, p.stderr[-3000:]
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        instances = {m["headers"]["pinpostd.instance"] for m in lines}
        assert instances == {f"{env.instance}-{i}"}
        assert len(lines) == 3 * (5 if i == 0 else 4)  # 9 posts over 2: 5 + 4


BAD = [
    ("PINPOSTD_DB_PORT", "abc", "environment variable PINPOSTD_DB_PORT: source.port: 'abc'"),
    ("PINPOSTD_DB_PORT", "70000", "PINPOSTD_DB_PORT: source.port"),
    ("PINPOSTD_DB_PORT", "-1", "PINPOSTD_DB_PORT: source.port"),
    ("PINPOSTD_DB_HOST", "", "PINPOSTD_DB_HOST (source.host) is set but empty"),
    ("PINPOSTD_BOOTSTRAP_SERVERS", " , ", "PINPOSTD_BOOTSTRAP_SERVERS: bootstrap.servers is empty"),
    ("PINPOSTD_DB_PASSWORD_FILE", "/nonexistent/pw", "PINPOSTD_DB_PASSWORD_FILE names no file"),
    ("PINPOSTD_DB_PASSWORD_FILE", "/", "PINPOSTD_DB_PASSWORD_FILE"),
    ("PINPOSTD_SHARDS", "0", "PINPOSTD_SHARDS: service.shards"),
    ("PINPOSTD_SHARDS", "1e300", "PINPOSTD_SHARDS: service.shards"),
    ("PINPOSTD_METRICS_LISTEN", "9464", "PINPOSTD_METRICS_LISTEN: service.metrics_listen"),
    ("PINPOSTD_METRICS_LISTEN", "host:0", "the port is not a number from 1 to 65535"),
    ("PINPOSTD_METRICS_LISTEN", "[::1:9464", "[ADDR]:PORT"),
    ("PINPOSTD_METRICS_LISTEN", "a b:80", "the host is not an address or a name"),
    ("PINPOSTD_TOPIC_PREFIX", "no spaces", "not a valid Kafka topic name"),
    ("PINPOSTD_INSTANCE", "a\nb\x1b[31m", "PINPOSTD_INSTANCE: service.instance: "),
]


@pytest.mark.parametrize("name,value,words", BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_a_bad_variable_is_a_configuration_error_naming_it(env, name, value, words):
    p = run_env(env, "", base_env(env, **{name: value}), "--count", "1")
    assert p.returncode == 78, p.stderr[-3000:]
    assert words in p.stderr, p.stderr[-3000:]
    assert "\x1b" not in p.stderr


def test_a_misspelt_variable_is_warned_about_and_foreign_ones_are_not(env):
    env.load(5)
    e = base_env(env, PINPOSTD_DB_HOTS="x", PINPOSTD_SOMETHING_ELSE_ENTIRELY="y")
    p = run_env(env, "", e, "--dry-run", "--count", "1")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "PINPOSTD_DB_HOTS is not one pinpostd reads; did you mean PINPOSTD_DB_HOST?" in p.stderr
    assert "PINPOSTD_SOMETHING_ELSE_ENTIRELY" not in p.stderr


def test_the_password_file_from_the_environment_follows_the_secrets_rules(env):
    e = base_env(env)
    os.chmod(e["PINPOSTD_DB_PASSWORD_FILE"], 0o666)
    p = run_env(env, "", e, "--dry-run", "--count", "1")
    assert p.returncode == 78, p.stderr[-3000:]
    assert "PINPOSTD_DB_PASSWORD_FILE" in p.stderr and "writable by group or others" in p.stderr
    assert MariaDB.PASSWORD not in p.stderr + p.stdout


def test_check_shows_the_settings_the_environment_gave(env):
    env.load(5)
    p = run_env(env, "", base_env(env, PINPOSTD_METRICS_LISTEN="127.0.0.1:1"), "--check")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "metrics_listen: 127.0.0.1:1" in p.stdout
    assert f"  database: {env.database}\n" in p.stdout
    assert (f"bootstrap.servers = {env.kafka.bootstrap}   "
            "(environment variable PINPOSTD_BOOTSTRAP_SERVERS)") in p.stdout
    assert MariaDB.PASSWORD not in p.stdout + p.stderr


def test_a_password_in_the_environment_is_refused_and_never_shown(env):
    secret = "S3cr3t-Env-Password-9931"
    p = run_env(env, "", base_env(env, PINPOSTD_DB_PASSWORD=secret), "--count", "1")
    assert p.returncode == 78 and "PINPOSTD_DB_PASSWORD is not read" in p.stderr, p.stderr
    # The password where its file's path belongs: an error that does not echo it.
    p = run_env(env, "", base_env(env, PINPOSTD_DB_PASSWORD_FILE=secret), "--count", "1")
    assert p.returncode == 78 and "PINPOSTD_DB_PASSWORD_FILE names no file" in p.stderr
    assert secret not in p.stdout + p.stderr


def test_invalid_utf8_in_a_variable_is_a_configuration_error(env):
    e = {k.encode(): v.encode() for k, v in base_env(env).items()}
    e[b"PINPOSTD_INSTANCE"] = b"ab\xff\xfe"
    (env.tmp / "empty.yaml").write_text("")
    p = subprocess.run([PINPOSTD, "-c", str(env.tmp / "empty.yaml"), "--count", "1"],
                       capture_output=True,
                       timeout=60, env=e)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 78, err
    assert "PINPOSTD_INSTANCE (service.instance) is not valid UTF-8" in err


@pytest.mark.parametrize("name,value,words", [
    ("PINPOSTD_DB_PORT", "tcp://10.96.0.12:3306", "enableServiceLinks: false"),
    ("PINPOSTD_DB_HOST", "a\nb", "PINPOSTD_DB_HOST: source.host: 'a?b' holds a control"),
    ("PINPOSTD_DB_USER", "bob\rroot", "PINPOSTD_DB_USER: source.user: 'bob?root' holds"),
    ("PINPOSTD_REPORT", "/tmp/r-${JOB_COMPLETION_INDEX}.json", "a Kubernetes Indexed Job sets it"),
])
def test_kubernetes_and_control_character_mistakes_are_explained(env, name, value, words):
    e = base_env(env, **{name: value})
    e.pop("JOB_COMPLETION_INDEX", None)
    p = run_env(env, "", e, "--count", "1")
    assert p.returncode == 78 and words in p.stderr, p.stderr[-3000:]


def test_other_names_in_the_variables_groups_are_warned_about(env):
    env.load(5)
    e = base_env(env, PINPOSTD_DB_NAME="x", PINPOSTD_KAFKA_BOOTSTRAP_SERVERS="y")
    p = run_env(env, "", e, "--dry-run", "--count", "1")
    assert p.returncode == 0, p.stderr[-3000:]
    for n in ("PINPOSTD_DB_NAME", "PINPOSTD_KAFKA_BOOTSTRAP_SERVERS"):
        assert f"environment variable {n} is not one pinpostd reads" in p.stderr


def test_a_host_from_the_environment_replaces_the_files_socket(env):
    env.load(5)
    p = run_env(env, "source:\n  socket: /nonexistent/mysqld.sock\n", base_env(env),
                "--count", "3", "--rate", "0")
    assert p.returncode == 0, p.stderr[-3000:]
    verify(env, 3)


@pytest.mark.parametrize("var", ["PINPOSTD_REPORT", "PINPOSTD_METRICS_FILE"])
def test_an_output_this_user_cannot_write_is_refused_at_start(env, var, open_dir):
    """As the image's user (10001) with the report or metrics file in a directory it may
    not write (a read-only root, a volume not mounted): exit 78 before the first post."""
    env.load(5)
    root = open_dir  # 10001 may enter
    d = root / "not-writable"
    d.mkdir()
    os.chmod(d, 0o755)
    e = base_env(env, **{var: str(d / "out")})
    pw = root / "pw"
    shutil.copy(e["PINPOSTD_DB_PASSWORD_FILE"], pw)
    os.chown(pw, 10001, 10001)
    e["PINPOSTD_DB_PASSWORD_FILE"] = str(pw)
    no_reports = sanitizer_logs_as(e, root / "sanitizer-logs", 10001, 10001)
    (root / "c.yaml").write_text("")
    os.chmod(root / "c.yaml", 0o644)
    p = subprocess.run([PINPOSTD, "-c", str(root / "c.yaml"), "--count", "3"],
                       capture_output=True, text=True, timeout=60, env=e, user=10001,
                       group=10001, cwd=root)
    assert p.returncode == 78, p.stderr[-3000:]
    assert f"cannot create a file in the directory {d}: Permission denied (user 10001)" \
        in p.stderr, p.stderr[-3000:]
    assert "posts delivered" not in p.stderr
    no_reports()
