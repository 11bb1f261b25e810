/* pp_kinesis: the Amazon Kinesis Data Streams API as the Kinesis sink and pinpost-verify
 * call it: where (the region by the one region rule, the endpoint), requests in its JSON 1.1
 * protocol signed with SigV4 from the credential chain, sent through pp_aws_http, and what
 * an error answer means. The answers' parsers are in pp_awsparse.h. */
#ifndef PP_KINESIS_H
#define PP_KINESIS_H

#include <stddef.h>

#include "pp_aws_http.h"
#include "pp_awscreds.h"
#include "pp_config.h"

typedef struct pp_kinesis_api {
    char *region; /* kinesis.region, AWS_REGION, AWS_DEFAULT_REGION or the endpoint's host */
    char *url;    /* kinesis.endpoint or https://kinesis.REGION.amazonaws.com, with a path */
    char *host;   /* host[:port] of url: the Host header curl sends and the signature covers */
    char *path;   /* the path of url, as signed */
    pp_aws_chain *chain; /* credentials: profile kinesis.aws_profile, STS in `region` */
} pp_kinesis_api;

/* The API of c->kinesis: region by pp_aws_region (setting kinesis.region; the endpoint's
 * host name may carry it), endpoint kinesis.endpoint or the region's public one. Returns
 * NULL with errstr when there is no region or kinesis.endpoint is no http(s) URL (both
 * configuration errors). Caller frees with pp_kinesis_api_destroy. */
pp_kinesis_api *pp_kinesis_api_new(const pp_config *c, char *errstr, size_t errstr_size);
void pp_kinesis_api_destroy(pp_kinesis_api *k); /* accepts NULL and half-built ones */

/* The header lines of a call of `action` ("PutRecords", "GetRecords", ...) with this JSON
 * body, signed now with the chain's current credentials. Caller frees with
 * pp_aws_http_headers_free. NULL with errstr ("no AWS credentials for Kinesis: ...") when
 * the chain has none. */
struct curl_slist *pp_kinesis_api_headers(pp_kinesis_api *k, const char *action, const void *body,
                                          size_t len, char *errstr, size_t errstr_size);

/* The request of one call: POST body to k->url with these headers (from
 * pp_kinesis_api_headers), for pp_aws_http_easy or pp_aws_http_call. headers and body must
 * outlive the transfer. */
pp_aws_http_req pp_kinesis_api_request(const pp_kinesis_api *k, const struct curl_slist *headers,
                                       const pp_buf *body, long timeout_ms);

/* What pp_kinesis_api_call returns when no HTTP status came. */
enum pp_kinesis_call_failure {
    PP_KINESIS_UNANSWERED = -1, /* no (complete) answer: unreachable, timed out, too large */
    PP_KINESIS_UNSIGNED = -2,   /* no credentials to sign with */
};

/* One blocking call of action with this JSON body. Returns the HTTP status with the answer
 * in resp (emptied first), or a pp_kinesis_call_failure with errstr. */
long pp_kinesis_api_call(pp_kinesis_api *k, const char *action, const pp_buf *body, long timeout_ms,
                         pp_buf *resp, char *errstr, size_t errstr_size);

/* Error types (pp_kinesis_parse_error) an operator must fix: retrying cannot help (stream
 * missing, access denied, bad credentials or signature, KMS key problems, invalid
 * requests). */
int pp_kinesis_api_needs_operator(const char *type);

/* Error types that say "slow down": throttling, to retry after a backoff. */
int pp_kinesis_api_throttled(const char *type);

#endif
