/* kinesis: the Kinesis Data Streams API client shared by the sink and the verifier. */
#include "pp_kinesis.h"
#include "pp_aws_region.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Split an endpoint URL into the URL to call (with a path), the Host and the path. */
static int parse_endpoint(pp_kinesis_api *k, const char *url, char *e, size_t n)
{
    const char *rest = !strncmp(url, "https://", 8)  ? url + 8
                       : !strncmp(url, "http://", 7) ? url + 7
                                                     : NULL;
    if (!rest || !*rest || *rest == '/')
        return pp_errf(e, n, "kinesis.endpoint '%s' is not an http:// or https:// URL", url), -1;
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    k->host = pp_xmalloc(hl + 1);
    memcpy(k->host, rest, hl);
    k->host[hl] = '\0';
    k->path = pp_xstrdup(slash ? slash : "/");
    size_t ul = strlen(url);
    k->url = pp_xmalloc(ul + 2);
    snprintf(k->url, ul + 2, "%s%s", url, slash ? "" : "/");
    return 0;
}

pp_kinesis_api *pp_kinesis_api_new(const pp_config *c, char *e, size_t n)
{
    char region[PP_AWS_REGION_MAX + 1];
    pp_aws_region_src src = {.who = "Kinesis",
                             .setting = "kinesis.region",
                             .value = c->kinesis.region,
                             .hosts = c->kinesis.endpoint,
                             .hosts_name = "kinesis.endpoint"};
    if (pp_aws_region(&src, region, sizeof(region), e, n) != PP_AWS_REGION_OK)
        return NULL;
    pp_kinesis_api *k = pp_xcalloc(1, sizeof(*k));
    k->region = pp_xstrdup(region);
    int bad;
    if (c->kinesis.endpoint) {
        bad = parse_endpoint(k, c->kinesis.endpoint, e, n);
    } else {
        char url[PP_AWS_REGION_MAX + 40];
        snprintf(url, sizeof(url), "https://kinesis.%s.amazonaws.com", region);
        bad = parse_endpoint(k, url, e, n);
    }
    if (bad) {
        pp_kinesis_api_destroy(k);
        return NULL;
    }
    pp_aws_chain_opts opts = {.profile = c->kinesis.profile, .sts_region = k->region};
    k->chain = pp_aws_chain_new(&opts);
    return k;
}

void pp_kinesis_api_destroy(pp_kinesis_api *k)
{
    if (!k)
        return;
    pp_aws_chain_destroy(k->chain);
    free(k->region);
    free(k->url);
    free(k->host);
    free(k->path);
    free(k);
}

struct curl_slist *pp_kinesis_api_headers(pp_kinesis_api *k, const char *action, const void *body,
                                          size_t len, char *e, size_t n)
{
    pp_aws_creds cr = {0};
    char err[1024], target[80];
    if (pp_aws_chain_get(k->chain, &cr, NULL, 0, err, sizeof(err))) {
        pp_errf(e, n, "no AWS credentials for Kinesis: %s", err);
        return NULL;
    }
    snprintf(target, sizeof(target), "Kinesis_20131202.%s", action);
    const char *hdr[] = {"Content-Type", "application/x-amz-json-1.1", "X-Amz-Target", target};
    pp_sigv4_request r = {.method = "POST",
                          .path = k->path,
                          .query = "",
                          .headers = hdr,
                          .nheaders = 2,
                          .payload = body,
                          .payload_len = len,
                          .region = k->region,
                          .service = "kinesis",
                          .when = time(NULL)};
    struct curl_slist *list = pp_aws_http_signed_headers(&cr, k->host, &r);
    pp_aws_creds_clear(&cr);
    return list;
}

pp_aws_http_req pp_kinesis_api_request(const pp_kinesis_api *k, const struct curl_slist *headers,
                                       const pp_buf *body, long timeout_ms)
{
    return (pp_aws_http_req){.method = "POST",
                             .url = k->url,
                             .headers = headers,
                             .body = body->data ? body->data : "",
                             .body_len = body->len,
                             .timeout_ms = timeout_ms};
}

long pp_kinesis_api_call(pp_kinesis_api *k, const char *action, const pp_buf *body, long timeout_ms,
                         pp_buf *resp, char *e, size_t n)
{
    struct curl_slist *h = pp_kinesis_api_headers(k, action, body->data, body->len, e, n);
    if (!h)
        return PP_KINESIS_UNSIGNED;
    pp_aws_http_req r = pp_kinesis_api_request(k, h, body, timeout_ms);
    long status = pp_aws_http_call(&r, resp, e, n);
    pp_aws_http_headers_free(h);
    return status < 0 ? PP_KINESIS_UNANSWERED : status;
}

static int one_of(const char *type, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(type, list[i]))
            return 1;
    return 0;
}

int pp_kinesis_api_needs_operator(const char *type)
{
    static const char *const fatal[] = {
        "ResourceNotFoundException", "AccessDeniedException",    "UnrecognizedClientException",
        "InvalidSignatureException", "IncompleteSignature",      "MissingAuthenticationToken",
        "KMSAccessDeniedException",  "KMSDisabledException",     "KMSNotFoundException",
        "KMSInvalidStateException",  "InvalidArgumentException", "ValidationException"};
    return one_of(type, fatal, sizeof(fatal) / sizeof(fatal[0]));
}

int pp_kinesis_api_throttled(const char *type)
{
    static const char *const slow[] = {"ProvisionedThroughputExceededException",
                                       "LimitExceededException", "ThrottlingException",
                                       "KMSThrottlingException"};
    return one_of(type, slow, sizeof(slow) / sizeof(slow[0]));
}
