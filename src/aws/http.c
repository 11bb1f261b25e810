/* http: the one libcurl client of the AWS calls, blocking or on a caller's multi handle. */
#include "pp_aws_http.h"
#include "pp_log.h"
#include "pp_secret.h"
#include "pp_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void pp_aws_http_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

/* curl_slist_append, aborting on out-of-memory as pp_xmalloc does. */
static struct curl_slist *append(struct curl_slist *list, const char *line)
{
    struct curl_slist *l = curl_slist_append(list, line);
    if (!l) {
        pp_log_err("out of memory (an HTTP header line)");
        abort();
    }
    return l;
}

void pp_aws_http_header(struct curl_slist **list, const char *name, const char *value)
{
    pp_buf line = PP_SECRET_BUF;
    pp_buf_printf(&line, "%s: %s", name, value);
    *list = append(*list, line.data);
    pp_secret_buf_free(&line); /* the value may be a token or a signature */
}

void pp_aws_http_headers_free(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next)
        if (l->data)
            pp_wipe(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

struct curl_slist *pp_aws_http_signed_headers(const pp_aws_creds *c, const char *host,
                                              const pp_sigv4_request *r)
{
    char date[17];
    pp_sigv4_amz_date(r->when, date);
    size_t n = r->nheaders;
    const char **h = pp_xcalloc(2 * (n + 3), sizeof(*h));
    if (n)
        memcpy(h, r->headers, 2 * n * sizeof(*h));
    h[2 * n] = "Host";
    h[2 * n + 1] = host;
    h[2 * n + 2] = "X-Amz-Date";
    h[2 * n + 3] = date;
    n += 2;
    if (c->session_token) {
        h[2 * n] = "X-Amz-Security-Token";
        h[2 * n + 1] = c->session_token;
        n++;
    }
    pp_sigv4_request signed_r = *r;
    signed_r.headers = h;
    signed_r.nheaders = n;
    pp_buf auth = PP_SECRET_BUF;
    pp_sigv4_authorization(c, &signed_r, &auth, NULL);
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[2 * i], "Host") != 0) /* curl sends it from the URL */
            pp_aws_http_header(&list, h[2 * i], h[2 * i + 1]);
    pp_aws_http_header(&list, "Authorization", auth.data);
    list = append(list, "Expect:");
    pp_secret_buf_free(&auth);
    free(h);
    return list;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    pp_buf *b = opaque;
    size_t n = size * nmemb;
    if (n > PP_AWS_HTTP_MAX_ANSWER - b->len) /* b->len never exceeds the cap */
        return 0;                            /* curl ends the transfer with CURLE_WRITE_ERROR */
    pp_buf_append(b, data, n);
    return n;
}

CURL *pp_aws_http_easy(const pp_aws_http_req *r, pp_buf *resp, char *err, size_t n)
{
    pp_aws_http_init();
    CURL *h = curl_easy_init();
    if (!h)
        return pp_errf(err, n, "%s %s: cannot start an HTTP transfer (out of memory?)", r->method,
                       r->url),
               NULL;
    pp_buf_reset(resp);
    pp_buf_append(resp, "", 0); /* an empty answer is "", not NULL */
    long connect_ms = r->timeout_ms < PP_AWS_HTTP_CONNECT_TIMEOUT_MS
                          ? r->timeout_ms
                          : PP_AWS_HTTP_CONNECT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)r->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r->direct)
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    /* A body (empty for a PUT without one: IMDSv2's token request) makes curl send a POST
     * of exactly these bytes; CUSTOMREQUEST names the method when it is another. */
    int has_body = r->body || !strcmp(r->method, "PUT");
    if (has_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(r->body ? r->body_len : 0));
    }
    if (strcmp(r->method, has_body ? "POST" : "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    return h;
}

long pp_aws_http_status(CURL *easy, CURLcode cc, char *err, size_t n)
{
    const char *url = NULL, *method = NULL;
    long status = -1;
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_METHOD, &method);
    if (cc == CURLE_WRITE_ERROR)
        pp_errf(err, n,
                "%s %s: the answer is larger than %u MiB, more than any AWS answer we ask for",
                method ? method : "", url ? url : "", PP_AWS_HTTP_MAX_ANSWER >> 20);
    else if (cc != CURLE_OK)
        pp_errf(err, n, "%s %s: %s", method ? method : "", url ? url : "", curl_easy_strerror(cc));
    else
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

long pp_aws_http_call(const pp_aws_http_req *r, pp_buf *resp, char *err, size_t n)
{
    CURL *h = pp_aws_http_easy(r, resp, err, n);
    if (!h)
        return -1;
    long status = pp_aws_http_status(h, curl_easy_perform(h), err, n);
    curl_easy_cleanup(h);
    return status;
}
