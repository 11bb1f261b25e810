"""Loopback stand-ins for AWS endpoints: an EC2 instance metadata service that enforces
IMDSv2 (session token on every request), and moto's server for STS."""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from servers import free_port, stop_process, wait_until


class Imds:
    """IMDSv2 for one instance role. Each credentials request returns new keys valid for
    `lifetime` seconds; `fetches` counts them, `rejected` counts requests that came
    without a valid session token."""

    ROLE = "pinpost-instance-role"

    def __init__(self, lifetime=3600):
        self.lifetime = lifetime
        self.fetches = 0
        self.rejected = 0
        self.issued = []
        self.tokens = set()
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body, ctype="text/plain"):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                if self.path != "/latest/api/token" or \
                        not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    imds.rejected += 1
                    return self.reply(400, "missing TTL")
                token = uuid.uuid4().hex
                imds.tokens.add(token)
                self.reply(200, token)

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                    imds.rejected += 1
                    return self.reply(401, "IMDSv2 session token required")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, imds.ROLE)
                if self.path == base + imds.ROLE:
                    imds.fetches += 1
                    akid = "ASIAIMDS%012d" % imds.fetches
                    imds.issued.append(akid)
                    exp = datetime.now(timezone.utc) + timedelta(seconds=imds.lifetime)
                    return self.reply(200, json.dumps({
                        "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": akid,
                        "SecretAccessKey": "imds-secret-" + uuid.uuid4().hex,
                        "Token": "imds-session-" + uuid.uuid4().hex,
                        "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "LastUpdated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }), "application/json")
                self.reply(404, "not found")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class MotoSts:
    """moto's server mode on a free loopback port."""

    def __init__(self, tmpdir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(tmpdir, "moto.log")
        exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        import urllib.request
        wait_until("moto", lambda: urllib.request.urlopen(self.endpoint + "/moto-api/",
                                                          timeout=2).status == 200,
                   60, proc=self.proc, log=self.log)

    def close(self):
        stop_process(self.proc)


def clean_aws_env(**extra):
    """The environment of a child with no AWS settings but the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env
