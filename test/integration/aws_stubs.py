"""Loopback stand-ins for AWS endpoints: an EC2 instance metadata service that enforces
IMDSv2 (session token on every request), moto's server (STS, Kinesis), and a Kinesis proxy
in front of moto that turns away a share of the records as throughput-exceeded, and can
throttle, fail or expire the calls of a reader."""

import base64
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
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


class MotoServer:
    """moto's server mode on a free loopback port (STS, Kinesis, ...)."""

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


class ThrottlingKinesisProxy:
    """Forwards Kinesis calls to `upstream` (moto). In each PutRecords call a share
    `reject` of the records (chosen with a seeded RNG) is answered with
    ProvisionedThroughputExceededException instead of being forwarded; the rest go to moto
    as a smaller PutRecords and the two answers are merged in request order, as Kinesis
    does. `sent` counts every record received per (stream, partition key, data);
    `rejected` counts those turned away. With `stream_status`, DescribeStreamSummary
    answers report that status instead of moto's. The first `fail_calls` PutRecords calls
    are answered with HTTP 500 InternalFailure, records untouched.

    For readers: the first `read_throttles` GetRecords calls are answered with HTTP 400
    ProvisionedThroughputExceededException, the first `read_failures` ListShards and
    GetShardIterator calls with HTTP 500 InternalFailure, and every `expire_every`-th
    GetRecords call after the throttled ones with HTTP 400 ExpiredIteratorException; none of
    them reaches moto. With `read_limit` and `list_limit`, GetRecords and ListShards
    calls reach moto asking for at most that many records or shards, so that a reader
    must page. `targets` counts every call by action, `refused` the calls so answered."""

    def __init__(self, upstream, reject=0.0, seed=1, stream_status=None, fail_calls=0,
                 read_throttles=0, read_failures=0, expire_every=0, read_limit=None,
                 list_limit=None):
        self.upstream = upstream
        self.reject = reject
        self.fail_calls = fail_calls
        self.read_throttles = read_throttles
        self.read_failures = read_failures
        self.expire_every = expire_every
        self.read_limit = read_limit
        self.list_limit = list_limit
        self.targets = {}
        self.refused = {}
        self.rng = random.Random(seed)
        self.stream_status = stream_status
        self.sent = {}
        self.rejected = 0
        self.calls = 0
        self.requests = []  # (headers, body) of every PutRecords call
        self.lock = threading.Lock()
        self.upstream_lock = threading.Lock()  # moto numbers records without a lock
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                target = self.headers.get("X-Amz-Target", "")
                code, answer = proxy.handle(target, body, dict(self.headers))
                self.send_response(code)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, target, body, headers):
        keep = {k: v for k, v in headers.items() if k.lower() in
                ("x-amz-target", "content-type", "authorization", "x-amz-date",
                 "x-amz-security-token")}
        req = urllib.request.Request(self.upstream + "/", data=body, headers=keep, method="POST")
        with self.upstream_lock:
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

    def refuse(self, action, code, error, message):
        self.refused[action] = self.refused.get(action, 0) + 1
        return code, json.dumps({"__type": error, "message": message}).encode()

    def handle(self, target, body, headers):
        action = target.rsplit(".", 1)[-1]
        with self.lock:
            self.targets[action] = self.targets.get(action, 0) + 1
            n = self.targets[action]
            if action == "GetRecords" and n <= self.read_throttles:
                return self.refuse(action, 400, "ProvisionedThroughputExceededException",
                                   "Rate exceeded for shard in the stand-in.")
            if action == "GetRecords" and self.expire_every and \
                    (n - self.read_throttles) % self.expire_every == 0:
                return self.refuse(action, 400, "ExpiredIteratorException",
                                   "Iterator expired in the stand-in.")
            if action in ("ListShards", "GetShardIterator") and n <= self.read_failures:
                return self.refuse(action, 500, "InternalFailure", "stand-in outage")
        if action == "GetRecords" and self.read_limit:
            req = json.loads(body)
            req["Limit"] = self.read_limit
            body = json.dumps(req).encode()
        if action == "ListShards" and self.list_limit:
            return self.list_page(target, json.loads(body), headers)
        if target.endswith(".DescribeStreamSummary") and self.stream_status:
            code, answer = self.forward(target, body, headers)
            doc = json.loads(answer)
            doc["StreamDescriptionSummary"]["StreamStatus"] = self.stream_status
            return code, json.dumps(doc).encode()
        if not target.endswith(".PutRecords"):
            return self.forward(target, body, headers)
        req = json.loads(body)
        stream = req["StreamName"]
        with self.lock:
            self.calls += 1
            self.requests.append((headers, body))
            if self.calls <= self.fail_calls:
                return 500, json.dumps({"__type": "InternalFailure",
                                        "message": "stand-in outage"}).encode()
            verdict = [self.rng.random() < self.reject for _ in req["Records"]]
            for rec, turned_away in zip(req["Records"], verdict):
                ident = (stream, rec["PartitionKey"], base64.b64decode(rec["Data"]))
                self.sent[ident] = self.sent.get(ident, 0) + 1
                self.rejected += turned_away
        passed = [r for r, v in zip(req["Records"], verdict) if not v]
        upstream = []
        if passed:
            code, answer = self.forward(target, json.dumps(
                {"StreamName": stream, "Records": passed}).encode(), headers)
            if code != 200:
                return code, answer
            upstream = json.loads(answer)["Records"]
        it = iter(upstream)
        merged = [{"ErrorCode": "ProvisionedThroughputExceededException",
                   "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream "
                                   f"{stream} under account 123456789012."}
                  if v else next(it) for v in verdict]
        failed = sum(1 for m in merged if "ErrorCode" in m)
        return 200, json.dumps({"FailedRecordCount": failed, "Records": merged}).encode()

    def list_page(self, target, req, headers):
        """One page of ListShards, as AWS pages it: the token alone names what follows."""
        if "NextToken" in req:
            if "StreamName" in req or "StreamARN" in req:
                with self.lock:
                    return self.refuse("ListShards", 400, "InvalidArgumentException",
                                       "NextToken and StreamName cannot be provided together.")
            token = json.loads(base64.b64decode(req["NextToken"]))
            stream, start = token["stream"], token["start"]
        else:
            stream, start = req["StreamName"], 0
        code, answer = self.forward(target, json.dumps({"StreamName": stream}).encode(), headers)
        if code != 200:
            return code, answer
        shards = json.loads(answer)["Shards"]
        out = {"Shards": shards[start:start + self.list_limit]}
        if start + self.list_limit < len(shards):
            out["NextToken"] = base64.b64encode(json.dumps(
                {"stream": stream, "start": start + self.list_limit}).encode()).decode()
        return 200, json.dumps(out).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def clean_aws_env(**extra):
    """The environment of a child with no AWS settings but the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env
