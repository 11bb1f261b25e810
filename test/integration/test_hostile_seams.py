"""Hostile checks of the seams of issue 13: pinpost-verify --kinesis against a Kinesis
stand-in that answers what the real service may not (a shard that never catches up, a
foreign partition key with a NUL in it), and the session token of the AWS credentials
left in freed memory by the SigV4 signing of an MSK IAM token.

Each test here failed when it was written and names the defect in its docstring. None
needs MariaDB or Kafka: the stand-in is a small HTTP server in this process."""

import base64
import http.server
import json
import os
import subprocess
import threading
import time

import pytest

from aws_stubs import clean_aws_env
from conftest import PINPOST_VERIFY, PINPOSTD_PLAIN

INSTANCE = "hostile-inst"


class KinesisStandIn:
    """ListShards, GetShardIterator and GetRecords for streams of one shard each. records
    maps a stream-name suffix ("pin", "geo", "user") to the records its shard holds;
    millis_behind is what every GetRecords answer says of how far the reader is behind."""

    def __init__(self, records, millis_behind=0):
        self.calls = {}
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                req = json.loads(self.rfile.read(n) or b"{}")
                action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                stand_in.calls[action] = stand_in.calls.get(action, 0) + 1
                if action == "ListShards":
                    out = {"Shards": [{"ShardId": "shardId-000000000000"}]}
                elif action == "GetShardIterator":
                    out = {"ShardIterator": "first:" + req.get("StreamName", "")}
                else:
                    it = req.get("ShardIterator", "")
                    stream = it.split(":", 1)[1]
                    recs = []
                    if it.startswith("first:"):
                        table = stream.rsplit("-", 1)[-1]
                        recs = [{"PartitionKey": pk,
                                 "Data": base64.b64encode(data).decode(),
                                 "SequenceNumber": str(i + 1),
                                 "ApproximateArrivalTimestamp": time.time()}
                                for i, (pk, data) in enumerate(records.get(table, []))]
                    out = {"Records": recs, "NextShardIterator": "next:" + stream,
                           "MillisBehindLatest": millis_behind}
                body = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def kinesis_only_config(tmp_path, endpoint):
    cfg = tmp_path / "hostile.yaml"
    cfg.write_text("kafka:\n  enabled: false\n"
                   "kinesis:\n  enabled: true\n  region: us-east-1\n"
                   f"  endpoint: {endpoint}\n"
                   "  streams: {pin: s-pin, geo: s-geo, user: s-user}\n"
                   f"service:\n  instance: {INSTANCE}\n")
    return cfg


def verify_env():
    return clean_aws_env(AWS_ACCESS_KEY_ID="AKIAHOSTILE000000001",
                         AWS_SECRET_ACCESS_KEY="hostile-secret")


def test_verify_kinesis_gives_up_on_a_shard_that_never_catches_up(tmp_path):
    """pinpost-verify --kinesis must end within --timeout when a shard never catches up.

    Defect: src/verify/kinesis_read.c read_shard() stops a shard only on an empty answer
    with MillisBehindLatest 0 (or a closed shard), and --timeout counts only failed calls
    (every 200 answer resets last_progress_us). A stand-in (or proxy) whose empty
    GetRecords answers always say MillisBehindLatest 1000 makes pinpost-verify poll
    forever, five times a second, with --timeout 2: it never exits (exit 2, 'could not
    verify', is what --timeout promises: 'give up after SECS without progress')."""
    stand_in = KinesisStandIn({}, millis_behind=1000)
    try:
        cfg = kinesis_only_config(tmp_path, stand_in.endpoint)
        proc = subprocess.Popen([PINPOST_VERIFY, "-c", str(cfg), "--kinesis", "--json",
                                 "--timeout", "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=verify_env())
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail("pinpost-verify --timeout 2 still reading after 30 s "
                        f"({stand_in.calls.get('GetRecords', 0)} GetRecords calls, no "
                        "record in any of them): an empty answer that is not caught up "
                        "is no progress")
        assert proc.returncode == 2, err[-3000:] + out
    finally:
        stand_in.close()


def test_verify_kinesis_does_not_count_a_foreign_key_cut_at_a_nul(tmp_path):
    """A record whose partition key is "7:1:<our instance>\\u0000foreign" was not written
    by this instance: pinpost-verify must count it as another's (messages_other), not as
    post 1 of ours.

    Defect: src/aws/awsparse.c pp_kinesis_parse_get_records() takes the partition key's
    length with strlen() on cJSON's decoded string, so the key is cut at the NUL before
    pp_contract_parse_partition_key (which refuses a NUL) sees it; the foreign record
    becomes "7:1:hostile-inst" and the run is reported 'verified' with one complete
    post that this instance never wrote."""
    foreign = f"7:1:{INSTANCE}\u0000foreign"
    stand_in = KinesisStandIn({t: [(foreign, b'{"x":1}')] for t in ("pin", "geo", "user")})
    try:
        cfg = kinesis_only_config(tmp_path, stand_in.endpoint)
        p = subprocess.run([PINPOST_VERIFY, "-c", str(cfg), "--kinesis", "--json",
                            "--timeout", "5", "--instance", INSTANCE],
                           capture_output=True, text=True, timeout=120, env=verify_env())
        assert p.stdout.strip(), p.stderr[-3000:]
        r = json.loads(p.stdout.splitlines()[-1])
        assert r["messages_other"] == 3, r
        assert r["posts_complete"] == 0, r
    finally:
        stand_in.close()


SHIM = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
/* Every block freed (or left behind by realloc) that still holds SHIM_NEEDLE is written
 * to SHIM_OUT. */
static void check(void *p, const char *how)
{
    static __thread int busy;
    const char *needle = getenv("SHIM_NEEDLE"), *out = getenv("SHIM_OUT");
    if (!p || !needle || !*needle || !out || busy)
        return;
    busy = 1;
    size_t n = malloc_usable_size(p), nl = strlen(needle);
    if (n >= nl && memmem(p, n, needle, nl)) {
        int fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (fd >= 0) {
            dprintf(fd, "%s of a block of %zu bytes\n", how, n);
            close(fd);
        }
    }
    busy = 0;
}
void free(void *p) { check(p, "free"); __libc_free(p); }
void *realloc(void *p, size_t n)
{
    if (!p)
        return __libc_malloc(n);
    if (!n) {
        free(p);
        return NULL;
    }
    void *q = __libc_malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    check(p, "realloc");
    __libc_free(p);
    return q;
}
"""


def test_msk_token_signing_erases_the_session_token(tmp_path):
    """The AWS session token is a credential: every heap copy pinpostd makes of it must
    be erased before it is freed (issue 13, defect 1: 'used everywhere a secret dies').

    Defect: src/aws/sigv4.c pp_sigv4_presign() frees its query (q) and canonical request
    (canon) buffers, both holding X-Amz-Security-Token=<session token>, with pp_buf_free,
    and pp_msk_token() frees the presigned URL (a bearer credential holding the token and
    the signature) the same way; pp_sigv4_authorization() likewise frees the
    x-amz-security-token header value and the canonical request unerased (the same path
    signs every Kinesis call). Seen with an LD_PRELOAD free()/realloc() that scans each
    block freed: `pinpostd msk-token` (the same pp_msk_token the Kafka OAUTHBEARER
    refresh uses) frees four blocks still holding the token."""
    shim_c = tmp_path / "shim.c"
    shim_c.write_text(SHIM)
    shim = tmp_path / "shim.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(shim), str(shim_c)], check=True)
    cfg = tmp_path / "msk.yaml"
    cfg.write_text("kafka:\n  enabled: false\n")
    hits = tmp_path / "hits"
    token = "HostileSessionToken0123456789abcdefXYZ"
    env = clean_aws_env(AWS_ACCESS_KEY_ID="ASIAHOSTILE000000001",
                        AWS_SECRET_ACCESS_KEY="hostile-secret", AWS_SESSION_TOKEN=token,
                        LD_PRELOAD=str(shim), SHIM_NEEDLE=token, SHIM_OUT=str(hits))
    p = subprocess.run([PINPOSTD_PLAIN, "msk-token", "--region", "us-east-1", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    # The token did go into the signed URL (else this test would prove nothing).
    assert token in base64.urlsafe_b64decode(p.stdout.split()[0] + "==").decode()
    left = hits.read_text() if hits.exists() else ""
    assert left == "", "blocks freed still holding the session token:\n" + left
