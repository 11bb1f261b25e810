"""Amazon MSK IAM: tokens against AWS's reference signer, the credential chain against
loopback IMDSv2 and moto STS, and the whole path against the broker's MSK IAM stand-in."""

import base64
import json
import os
import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from aws_stubs import Imds, MotoServer, clean_aws_env
from conftest import PINPOSTD, verify

HERE = os.path.dirname(__file__)
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

EXAMPLE_PROPERTIES = """\
security.protocol = SASL_SSL
sasl.mechanism = AWS_MSK_IAM
sasl.jaas.config = software.amazon.msk.auth.iam.IAMLoginModule required awsRoleArn="arn:aws:iam::123456789012:role/ec2-access-role";
sasl.client.callback.handler.class = software.amazon.msk.auth.iam.IAMClientCallbackHandler
"""


def decode(token):
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(url)
    return parts, dict(parse_qsl(parts.query, keep_blank_values=True))


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    m = MotoServer(str(tmp_path_factory.mktemp("moto")))
    yield m
    m.close()


@pytest.mark.parametrize("region,when,session_token", [
    ("us-east-1", "2015-08-30T12:36:00Z", None),
    ("eu-west-1", "2024-02-29T23:59:59Z", "FwoGZXIvYXdzEJr//////////wEaDK+token/with=chars"),
    ("ap-southeast-2", "2026-11-21T08:00:00Z", "short"),
])
def test_token_matches_the_reference_signer(region, when, session_token):
    extra = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET}
    if session_token:
        extra["AWS_SESSION_TOKEN"] = session_token
    env = clean_aws_env(**extra)
    ours = subprocess.run([PINPOSTD, "msk-token", "--region", region, "--at", when],
                          capture_output=True, text=True, env=env, timeout=30)
    assert ours.returncode == 0, ours.stderr
    ref = subprocess.run([sys.executable, os.path.join(HERE, "msk_reference_signer.py"), region,
                          when], capture_output=True, text=True, env=env, timeout=60)
    assert ref.returncode == 0, ref.stderr
    our_token, our_expiry = ours.stdout.split()
    ref_token, ref_expiry = ref.stdout.split()
    assert int(our_expiry) == int(ref_expiry)
    (ou, oq), (ru, rq) = decode(our_token), decode(ref_token)
    assert (ou.scheme, ou.netloc, ou.path) == (ru.scheme, ru.netloc, ru.path)
    assert oq.pop("User-Agent").startswith("pinpostd/")
    assert rq.pop("User-Agent").startswith("aws-msk-iam-sasl-signer-python/")
    # Every signed part, the signature included.
    assert oq == rq
    assert "=" not in our_token and "+" not in our_token and "/" not in our_token
    assert SECRET not in ours.stdout + ours.stderr


def test_imdsv2_credentials_are_used_with_session_tokens(tmp_path):
    imds = Imds()
    try:
        env = clean_aws_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint,
                            AWS_EC2_METADATA_DISABLED="false", HOME=str(tmp_path))
        p = subprocess.run([PINPOSTD, "msk-token", "--region", "us-east-1"],
                           capture_output=True, text=True, env=env, timeout=30)
        assert p.returncode == 0, p.stderr
        _, q = decode(p.stdout.split()[0])
        assert q["X-Amz-Credential"].startswith(imds.issued[0] + "/")
        assert q["X-Amz-Security-Token"].startswith("imds-session-")
        assert imds.rejected == 0 and imds.fetches == 1
        assert "instance metadata" in p.stderr
        # The stand-in really enforces IMDSv2: a request without the token is refused.
        import urllib.error
        import urllib.request
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(imds.endpoint + "/latest/meta-data/iam/security-credentials/")
    finally:
        imds.close()


def test_no_credentials_names_every_provider_tried(tmp_path):
    env = clean_aws_env(HOME=str(tmp_path))
    p = subprocess.run([PINPOSTD, "msk-token", "--region", "us-east-1"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 1
    for words in ("environment", "web identity", "shared files", "container",
                  "instance metadata"):
        assert words in p.stderr


def test_shared_credentials_file_and_profile(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n"
        "[team]\naws_access_key_id=AKIATEAM\naws_secret_access_key=t\naws_session_token=tt\n")
    env = clean_aws_env(HOME=str(tmp_path), AWS_PROFILE="team")
    p = subprocess.run([PINPOSTD, "msk-token", "--region", "us-east-1"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    _, q = decode(p.stdout.split()[0])
    assert q["X-Amz-Credential"].startswith("AKIATEAM/") and q["X-Amz-Security-Token"] == "tt"


def test_assume_role_through_sts(tmp_path, moto):
    (tmp_path / "client.properties").write_text(EXAMPLE_PROPERTIES + "bootstrap.servers=b-1.x.kafka.eu-central-1.amazonaws.com:9098\n")
    (tmp_path / "pinpostd.yaml").write_text("kafka:\n  properties: client.properties\n")
    env = clean_aws_env(AWS_ACCESS_KEY_ID="AKIABASE", AWS_SECRET_ACCESS_KEY="base-secret",
                        AWS_ENDPOINT_URL_STS=moto.endpoint, HOME=str(tmp_path))
    p = subprocess.run([PINPOSTD, "msk-token", "-c", str(tmp_path / "pinpostd.yaml")],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    parts, q = decode(p.stdout.split()[0])
    assert parts.netloc == "kafka.eu-central-1.amazonaws.com"  # region from the broker names
    assert q["X-Amz-Credential"].startswith("ASIA")             # the assumed role's keys
    assert q["X-Amz-Security-Token"]
    assert "role arn:aws:iam::123456789012:role/ec2-access-role assumed" in p.stderr
    assert "base-secret" not in p.stdout + p.stderr


def msk_env(env, imds, moto=None):
    """client.properties = the issue's example file, pointed at the broker's TLS listener."""
    k = env.kafka
    import shutil
    shutil.copy(k.ca_pem, env.tmp / "ca.pem")
    env.props.write_text(EXAMPLE_PROPERTIES +
                         f"bootstrap.servers = {k.ssl_bootstrap}\n"
                         "ssl.truststore.type = PEM\nssl.truststore.location = ca.pem\n")
    extra = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
             "AWS_EC2_METADATA_DISABLED": "false", "HOME": str(env.tmp)}
    if moto:
        extra["AWS_ENDPOINT_URL_STS"] = moto.endpoint
    return clean_aws_env(**extra)


def test_example_client_properties_passes_check_and_delivers(env, moto):
    env.load(300)
    imds = Imds()
    try:
        child_env = msk_env(env, imds, moto)
        env.write_config(extra_kafka="  aws_region: us-east-1\n")
        open(env.kafka.token_log, "a").close()
        before = open(env.kafka.token_log).read().count("ACCEPT ASIA")
        p = subprocess.run([PINPOSTD, "-c", str(env.config), "--check"], capture_output=True,
                           text=True, env=child_env, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "msk iam: region us-east-1, credentials from role" in p.stdout
        run = subprocess.run([PINPOSTD, "-c", str(env.config), "--count", "200", "--rate", "0"],
                             capture_output=True, text=True, env=child_env, timeout=180)
        assert run.returncode == 0, run.stderr[-3000:]
        log = open(env.kafka.token_log).read()
        assert log.count("ACCEPT ASIA") > before
        assert "REJECT" not in log
        verify(env, 200)
    finally:
        imds.close()


def test_short_lived_credentials_are_refreshed_before_they_expire(env):
    env.load(200)
    imds = Imds(lifetime=20)
    try:
        child_env = msk_env(env, imds)
        env.props.write_text(env.props.read_text().replace(
            ' awsRoleArn="arn:aws:iam::123456789012:role/ec2-access-role"', ""))
        env.write_config(extra_kafka="  aws_region: us-east-1\n")
        report = env.tmp / "short.json"
        p = subprocess.run([PINPOSTD, "-c", str(env.config), "--rate", "10", "--duration", "35",
                            "--report", str(report)], capture_output=True, text=True,
                           env=child_env, timeout=180)
        assert p.returncode == 0, p.stderr[-3000:]
        assert imds.fetches >= 2, f"credentials fetched {imds.fetches} time(s) in 35 s"
        assert p.stderr.count("MSK IAM: new token") >= 2
        rep = json.loads(report.read_text())
        assert rep["posts_failed"] == 0 and rep["posts_delivered"] > 300
        verify(env, rep["posts_delivered"], check_rows=False)
        print(f"short-lived credentials: {imds.fetches} fetches, "
              f"{p.stderr.count('MSK IAM: new token')} tokens in 35 s")
    finally:
        imds.close()


def test_web_identity_through_sts(tmp_path, moto):
    (tmp_path / "token.jwt").write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwaW5wb3N0ZCJ9.c2ln\n")
    env = clean_aws_env(AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token.jwt"),
                        AWS_ROLE_ARN="arn:aws:iam::123456789012:role/web-role",
                        AWS_ENDPOINT_URL_STS=moto.endpoint, HOME=str(tmp_path))
    p = subprocess.run([PINPOSTD, "msk-token", "--region", "us-east-1"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    _, q = decode(p.stdout.split()[0])
    assert q["X-Amz-Credential"].startswith("ASIA") and q["X-Amz-Security-Token"]
    assert "web identity" in p.stderr


def test_container_credentials_with_authorization_token(tmp_path):
    import http.server
    import threading
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "c-secret",
                               "Token": "c-token", "Expiration": "2099-01-01T00:00:00Z"})
            ok = self.headers.get("Authorization") == "Bearer ctok"
            self.send_response(200 if ok else 403)
            self.end_headers()
            self.wfile.write(body.encode() if ok else b"{}")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        (tmp_path / "ctok").write_text("Bearer ctok\n")
        env = clean_aws_env(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{srv.server_address[1]}/creds",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "ctok"), HOME=str(tmp_path))
        p = subprocess.run([PINPOSTD, "msk-token", "--region", "us-east-1"],
                           capture_output=True, text=True, env=env, timeout=30)
        assert p.returncode == 0, p.stderr
        _, q = decode(p.stdout.split()[0])
        assert q["X-Amz-Credential"].startswith("ASIACONTAINER/")
        assert seen == [("/creds", "Bearer ctok")]
    finally:
        srv.shutdown()
        srv.server_close()
