/* Unit tests of the AWS HTTP client (pp_aws_http) against a loopback HTTP server in a
 * thread, and of its SigV4 header signing. The expected Authorization values were computed
 * with botocore's SigV4Auth at the same frozen time (2015-08-30T12:36:00Z), not by
 * pinpostd. */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "pp_aws_http.h"

#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- a one-connection-at-a-time HTTP server ---- */

typedef struct server {
    int fd, port;
    pthread_t thread;
    int status;         /* answer with this status */
    size_t answer_len;  /* and this many bytes of 'x' */
    char request[8192]; /* the last request: head and body, NUL-terminated */
    size_t request_len;
    int requests;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* shut down */
        size_t n = 0, want = 0;
        char *end = NULL;
        for (;;) {
            ssize_t got = recv(c, s->request + n, sizeof(s->request) - 1 - n, 0);
            if (got <= 0)
                break;
            n += (size_t)got;
            s->request[n] = '\0';
            if (!end && (end = strstr(s->request, "\r\n\r\n"))) {
                const char *cl = strcasestr(s->request, "\r\nContent-Length:");
                want = (size_t)(end + 4 - s->request) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (end && n >= want)
                break;
        }
        s->request_len = n;
        s->requests++;
        char head[200];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %d Answer\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          s->status, s->answer_len);
        send(c, head, (size_t)hl, MSG_NOSIGNAL);
        for (size_t left = s->answer_len; left;) {
            size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
            if (send(c, chunk, k, MSG_NOSIGNAL) <= 0)
                break; /* the client gave up */
            left -= k;
        }
        close(c);
    }
}

static void server_start(server *s, int status, size_t answer_len)
{
    memset(s, 0, sizeof(*s));
    s->status = status;
    s->answer_len = answer_len;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static char *url_of(const server *s)
{
    char *u = malloc(64);
    snprintf(u, 64, "http://127.0.0.1:%d/path?q=1", s->port);
    return u;
}

/* ---- tests ---- */

static void call__post_with_headers__sent_as_given(void **state)
{
    (void)state;
    server s;
    server_start(&s, 200, 5);
    char *url = url_of(&s), err[512] = "";
    struct curl_slist *h = NULL;
    pp_aws_http_header(&h, "X-Test", "one two");
    pp_aws_http_req r = {.method = "POST",
                         .url = url,
                         .headers = h,
                         .body = "a=1&b=2",
                         .body_len = 7,
                         .timeout_ms = 5000};
    pp_buf resp = {0};
    assert_int_equal(pp_aws_http_call(&r, &resp, err, sizeof(err)), 200);
    assert_string_equal(resp.data, "xxxxx");
    assert_non_null(strstr(s.request, "POST /path?q=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\nX-Test: one two\r\n"));
    assert_non_null(strstr(s.request, "\r\nContent-Length: 7\r\n"));
    assert_string_equal(strstr(s.request, "\r\n\r\n") + 4, "a=1&b=2");
    pp_aws_http_headers_free(h);
    pp_buf_free(&resp);
    free(url);
    server_stop(&s);
}

static void call__put_and_get__methods_and_empty_bodies(void **state)
{
    (void)state;
    server s;
    server_start(&s, 404, 0);
    char *url = url_of(&s), err[512] = "";
    pp_buf resp = {0};
    pp_aws_http_req put = {.method = "PUT", .url = url, .timeout_ms = 5000};
    assert_int_equal(pp_aws_http_call(&put, &resp, err, sizeof(err)), 404);
    assert_non_null(strstr(s.request, "PUT /path?q=1 HTTP/1.1\r\n"));
    /* IMDSv2 refuses a PUT without a length. */
    assert_non_null(strstr(s.request, "\r\nContent-Length: 0\r\n"));
    assert_non_null(resp.data);
    assert_int_equal(resp.len, 0);
    pp_aws_http_req get = {.method = "GET", .url = url, .timeout_ms = 5000};
    assert_int_equal(pp_aws_http_call(&get, &resp, err, sizeof(err)), 404);
    assert_non_null(strstr(s.request, "GET /path?q=1 HTTP/1.1\r\n"));
    assert_null(strstr(s.request, "Content-Length"));
    pp_buf_free(&resp);
    free(url);
    server_stop(&s);
}

static void call__answer_at_the_cap__taken_whole(void **state)
{
    (void)state;
    server s;
    server_start(&s, 200, PP_AWS_HTTP_MAX_ANSWER);
    char *url = url_of(&s), err[512] = "";
    pp_buf resp = {0};
    pp_aws_http_req r = {.method = "GET", .url = url, .timeout_ms = 20000};
    assert_int_equal(pp_aws_http_call(&r, &resp, err, sizeof(err)), 200);
    assert_int_equal(resp.len, PP_AWS_HTTP_MAX_ANSWER);
    pp_buf_free(&resp);
    free(url);
    server_stop(&s);
}

static void call__answer_over_the_cap__error_names_it(void **state)
{
    (void)state;
    server s;
    server_start(&s, 200, PP_AWS_HTTP_MAX_ANSWER + 1);
    char *url = url_of(&s), err[512] = "";
    pp_buf resp = {0};
    pp_aws_http_req r = {.method = "GET", .url = url, .timeout_ms = 20000};
    assert_int_equal(pp_aws_http_call(&r, &resp, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "GET http://127.0.0.1:"));
    assert_non_null(strstr(err, "larger than 16 MiB"));
    assert_true(resp.len <= PP_AWS_HTTP_MAX_ANSWER);
    pp_buf_free(&resp);
    free(url);
    server_stop(&s);
}

static void call__nobody_listens__error_names_the_url(void **state)
{
    (void)state;
    server s;
    server_start(&s, 200, 0);
    char *url = url_of(&s), err[512] = "";
    server_stop(&s); /* the port is closed now */
    pp_buf resp = {0};
    pp_aws_http_req r = {
        .method = "POST", .url = url, .body = "{}", .body_len = 2, .timeout_ms = 5000};
    assert_int_equal(pp_aws_http_call(&r, &resp, err, sizeof(err)), -1);
    assert_non_null(strstr(err, url));
    pp_buf_free(&resp);
    free(url);
}

static void easy__on_a_multi_handle__same_answer(void **state)
{
    (void)state;
    server s;
    server_start(&s, 503, 3);
    char *url = url_of(&s), err[512] = "";
    pp_buf resp = {0};
    pp_buf_puts(&resp, "stale");
    const char *body = "{\"k\":1}";
    pp_aws_http_req r = {
        .method = "POST", .url = url, .body = body, .body_len = strlen(body), .timeout_ms = 5000};
    CURLM *m = curl_multi_init();
    CURL *e = pp_aws_http_easy(&r, &resp, err, sizeof(err));
    assert_non_null(e);
    assert_int_equal(resp.len, 0); /* emptied */
    curl_multi_add_handle(m, e);
    int running = 1;
    CURLcode cc = CURLE_FAILED_INIT;
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE)
            cc = msg->data.result;
    assert_int_equal(pp_aws_http_status(e, cc, err, sizeof(err)), 503);
    assert_string_equal(resp.data, "xxx");
    assert_string_equal(strstr(s.request, "\r\n\r\n") + 4, body);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    pp_buf_free(&resp);
    free(url);
    server_stop(&s);
}

static void signed_headers__kinesis_calls__botocore_signatures(void **state)
{
    (void)state;
    static const struct {
        const char *host, *region, *target, *body, *token, *auth;
    } cases[] = {
        {"kinesis.eu-west-1.amazonaws.com", "eu-west-1", "Kinesis_20131202.ListShards",
         "{\"StreamName\":\"s\"}", NULL,
         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kinesis/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
         "Signature=1c0358959eb513fb91221f851215dbd4310607f4b5608565058bd902d9c63a8a"},
        {"kinesis.eu-west-1.amazonaws.com", "eu-west-1", "Kinesis_20131202.ListShards",
         "{\"StreamName\":\"s\"}", "session-token-example",
         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kinesis/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
         "Signature=26da85f5d54cb28346a92e9060ac1bf788df041a5d2f01ae5180ade526cbb5c2"},
        /* A port is part of the signed Host, as curl sends it. */
        {"127.0.0.1:4566", "us-east-1", "Kinesis_20131202.GetRecords", "{}", NULL,
         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
         "Signature=7d4c50ad9fc37a89aa0d8713e0732ca9458379a3e8434a3a6a62a7c8b41b1ce2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_aws_creds c = {"AKIDEXAMPLE", SECRET, (char *)cases[i].token, 0};
        const char *h[] = {"Content-Type", "application/x-amz-json-1.1", "X-Amz-Target",
                           cases[i].target};
        pp_sigv4_request r = {.method = "POST",
                              .path = "/",
                              .query = "",
                              .headers = h,
                              .nheaders = 2,
                              .payload = cases[i].body,
                              .payload_len = strlen(cases[i].body),
                              .region = cases[i].region,
                              .service = "kinesis",
                              .when = SUITE_TIME};
        struct curl_slist *l = pp_aws_http_signed_headers(&c, cases[i].host, &r);
        pp_buf all = {0};
        for (struct curl_slist *p = l; p; p = p->next)
            pp_buf_printf(&all, "%s\n", p->data);
        char want[400];
        snprintf(want, sizeof(want), "Authorization: %s\n", cases[i].auth);
        assert_non_null(strstr(all.data, want));
        assert_non_null(strstr(all.data, "X-Amz-Date: 20150830T123600Z\n"));
        assert_non_null(strstr(all.data, "Content-Type: application/x-amz-json-1.1\n"));
        assert_null(strstr(all.data, "Host:")); /* curl sends it from the URL */
        assert_non_null(strstr(all.data, "Expect:\n"));
        if (cases[i].token)
            assert_non_null(strstr(all.data, "X-Amz-Security-Token: session-token-example\n"));
        else
            assert_null(strstr(all.data, "X-Amz-Security-Token"));
        pp_buf_free(&all);
        pp_aws_http_headers_free(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call__post_with_headers__sent_as_given),
        cmocka_unit_test(call__put_and_get__methods_and_empty_bodies),
        cmocka_unit_test(call__answer_at_the_cap__taken_whole),
        cmocka_unit_test(call__answer_over_the_cap__error_names_it),
        cmocka_unit_test(call__nobody_listens__error_names_the_url),
        cmocka_unit_test(easy__on_a_multi_handle__same_answer),
        cmocka_unit_test(signed_headers__kinesis_calls__botocore_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
