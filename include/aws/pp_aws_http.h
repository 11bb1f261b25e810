/* pp_aws_http: the one HTTP client of the AWS calls (credentials, STS, Kinesis) and of
 * `pinpostd health`, over libcurl. A request is sent blocking (pp_aws_http_call) or by the
 * caller's curl multi handle (pp_aws_http_easy, then pp_aws_http_status); either way the answer is collected
 * into a pp_buf, at most PP_AWS_HTTP_MAX_ANSWER bytes, with the same options (http and
 * https only, no signals, connecting bounded). Header lists may carry secrets (tokens,
 * signatures): free them with pp_aws_http_headers_free, which erases them first. */
#ifndef PP_AWS_HTTP_H
#define PP_AWS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "pp_buf.h"
#include "pp_sigv4.h"

/* The largest answer taken: a GetRecords answer holds up to 10 MiB of record data, which
 * base64 makes 13.4 MiB; credential answers are a few KiB. A larger answer fails the
 * transfer (CURLE_WRITE_ERROR, reported as over this cap by pp_aws_http_status). */
#define PP_AWS_HTTP_MAX_ANSWER (16u << 20)

/* Connecting takes at most this much of a request's timeout. */
#define PP_AWS_HTTP_CONNECT_TIMEOUT_MS 10000L

typedef struct pp_aws_http_req {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    /* "Name: value" lines (pp_aws_http_header), or NULL; they must outlive the transfer */
    const struct curl_slist *headers;
    const void *body; /* NULL: none (a PUT then sends an empty body); must outlive the transfer */
    size_t body_len;
    long timeout_ms; /* the whole transfer; connecting gets at most 10 s of it */
    /* Never through a proxy, whatever http_proxy and the like say (pinpostd health asking
     * its own endpoint on this machine). */
    int direct;
} pp_aws_http_req;

/* Initialise libcurl once per process; idempotent and thread-safe. The functions below call
 * it; a caller that creates a curl multi handle before its first transfer calls it first. */
void pp_aws_http_init(void);

/* Append "name: value" to *list (copied). Allocation failure aborts, as pp_xmalloc. */
void pp_aws_http_header(struct curl_slist **list, const char *name, const char *value);

/* Erase every line of list, then free it. NULL is fine. */
void pp_aws_http_headers_free(struct curl_slist *list);

/* The header lines of a SigV4-signed request to host: r's headers (name, value pairs; not
 * Host, X-Amz-Date or X-Amz-Security-Token, which this adds), X-Amz-Date of r->when,
 * X-Amz-Security-Token when c carries a session token, Authorization, and "Expect:" (no
 * 100-continue round trip before the body). Host is signed but not listed: curl sends it
 * from the URL, so host must be written as there (host[:port]). Caller frees with
 * pp_aws_http_headers_free. */
struct curl_slist *pp_aws_http_signed_headers(const pp_aws_creds *c, const char *host,
                                              const pp_sigv4_request *r);

/* One blocking request. resp is emptied, then receives the answer's body (NUL-terminated).
 * Returns the HTTP status, or -1 with errstr ("METHOD URL: what curl said") when no
 * complete answer came (unreachable, timed out, over PP_AWS_HTTP_MAX_ANSWER). */
long pp_aws_http_call(const pp_aws_http_req *req, pp_buf *resp, char *errstr, size_t errstr_size);

/* For an asynchronous caller: a configured easy handle for req that appends the answer's
 * body to resp (emptied first), capped at PP_AWS_HTTP_MAX_ANSWER. The caller adds it to its
 * multi handle, may set CURLOPT_PRIVATE, reads the outcome with pp_aws_http_status and
 * frees it with curl_easy_cleanup. req itself may go, but req->headers, req->body and resp
 * must live until then. Returns NULL with errstr when curl cannot allocate one. */
CURL *pp_aws_http_easy(const pp_aws_http_req *req, pp_buf *resp, char *errstr, size_t errstr_size);

/* The outcome of a finished transfer of easy (cc: what curl_multi_info_read or
 * curl_easy_perform said): the HTTP status, or -1 with errstr ("URL: what curl said", the
 * cap named when the answer was too large) when no complete answer came. */
long pp_aws_http_status(CURL *easy, CURLcode cc, char *errstr, size_t errstr_size);

#endif
