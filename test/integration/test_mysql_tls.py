"""TLS to the database: each source.tls mode against the test MariaDB, which serves a
certificate from a throwaway CA. A user created with REQUIRE SSL proves from the server's
side whether the session was encrypted."""

import pytest

from servers import MariaDB

TLS_USER = "pinpost_tls"


@pytest.fixture
def tls_env(env):
    with env.db.root() as c, c.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{TLS_USER}'@'%' "
                    f"IDENTIFIED BY '{MariaDB.PASSWORD}' REQUIRE SSL")
        cur.execute(f"GRANT ALL ON `{env.database}`.* TO '{TLS_USER}'@'%'")
    env.creds.write_text(env.creds.read_text().replace(f"RDS_USER: {MariaDB.USER}",
                                                       f"RDS_USER: {TLS_USER}"))
    env.load(50)
    yield env
    env.db.serve_cert("good")


def configure(env, mode, ca=None):
    extra = f"  tls: {mode}\n" + (f"  tls_ca: {ca}\n" if ca else "")
    env.write_config(extra_source=extra)


def run(env, *args):
    return env.run("--dry-run", "--count", "5", "--rate", "0", "-v", *args, timeout=60)


@pytest.mark.parametrize("mode,ca", [("preferred", None), ("required", None),
                                     ("verify_ca", "ca"), ("verify_identity", "ca")])
def test_encrypting_modes_connect_over_tls(tls_env, mode, ca):
    configure(tls_env, mode, tls_env.db.tls[ca] if ca else None)
    p, rep = run(tls_env)
    assert p.returncode == 0, p.stderr
    assert f"MySQL connection encrypted (TLS" in p.stderr and f"tls: {mode})" in p.stderr
    assert rep["posts_delivered"] == 5


def test_disabled_sends_in_the_clear_and_the_tls_only_user_is_refused(tls_env):
    configure(tls_env, "disabled")
    p, _ = run(tls_env)
    assert p.returncode == 78, p.stderr
    assert f"as {TLS_USER}: MySQL error 1045: Access denied" in p.stderr
    assert MariaDB.PASSWORD not in p.stderr


def test_disabled_logs_an_unencrypted_connection(env):
    env.load(20)
    env.write_config(extra_source="  tls: disabled\n")
    p, _ = env.run("--dry-run", "--count", "3", "--rate", "0", "-v", timeout=60)
    assert p.returncode == 0, p.stderr
    assert "MySQL connection not encrypted (source.tls: disabled)" in p.stderr
    assert "encrypted (TLS" not in p.stderr


def test_verify_ca_refuses_a_certificate_from_another_ca(tls_env):
    configure(tls_env, "verify_ca", tls_env.db.tls["other_ca"])
    p, rep = run(tls_env)
    assert p.returncode == 78, p.stderr
    assert (f"connecting to MySQL at 127.0.0.1:{tls_env.db.port} as {TLS_USER}: MySQL error "
            "2026: TLS/SSL error: self-signed certificate in certificate chain (check that "
            "source.tls_ca holds the CA") in p.stderr
    assert rep is None or rep["posts_delivered"] == 0


def test_verify_identity_checks_the_host_name_and_verify_ca_does_not(tls_env):
    tls_env.db.serve_cert("wrong-name")
    configure(tls_env, "verify_ca", tls_env.db.tls["ca"])
    p, _ = run(tls_env)
    assert p.returncode == 0, p.stderr
    assert "MySQL connection encrypted (TLS" in p.stderr

    configure(tls_env, "verify_identity", tls_env.db.tls["ca"])
    p, _ = run(tls_env)
    assert p.returncode == 78, p.stderr
    assert ("MySQL error 2026: TLS/SSL error: Validation of SSL server certificate failed "
            "(check that source.tls_ca") in p.stderr


@pytest.mark.parametrize("extra,message", [
    ("  tls: verify_ca\n",
     "source.tls is verify_ca but source.tls_ca is not set: name the PEM file of the CA "
     "that signed the database server's certificate"),
    ("  tls: required\n  tls_ca: ca.pem\n",
     "source.tls_ca is set but source.tls is required, which does not verify the server; "
     "use verify_ca or verify_identity"),
    ("  tls: always\n",
     "pinpostd.yaml:3: source.tls: 'always' is not one of disabled, preferred, required, "
     "verify_ca, verify_identity"),
])
def test_inconsistent_tls_settings_are_config_errors(env, extra, message):
    env.write_config(extra_source=extra)
    p, _ = env.run("--check", timeout=30)
    assert p.returncode == 78
    assert message in p.stderr
