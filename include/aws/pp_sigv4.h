/* pp_sigv4: AWS Signature Version 4, as header signing (Authorization) and as query
 * presigning (X-Amz-Signature in the URL), plus the Amazon MSK IAM auth token built on
 * the latter. Pure functions of their inputs: the signing time is a parameter. */
#ifndef PP_SIGV4_H
#define PP_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pp_buf.h"

/* AWS credentials. session_token may be NULL; expiration 0 = does not expire. The
 * strings are owned by whoever fills the struct; see pp_aws_creds_clear. */
typedef struct pp_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    time_t expiration;
} pp_aws_creds;

/* Free (after zeroing) the strings of c. */
void pp_aws_creds_clear(pp_aws_creds *c);

/* A request to sign. Header names are matched case-insensitively; `query` is the raw
 * query string without '?', parameters already URI-encoded (may be empty). */
typedef struct pp_sigv4_request {
    const char *method;
    const char *path; /* absolute path, e.g. "/" */
    const char *query;
    const char *const *headers; /* name, value, name, value, ... */
    size_t nheaders;            /* number of name/value pairs */
    const void *payload;
    size_t payload_len;
    const char *region;
    const char *service;
    time_t when;
} pp_sigv4_request;

/* The value of the Authorization header for r (which must carry Host and X-Amz-Date
 * headers; with a session token, X-Amz-Security-Token too). canonical, when not NULL,
 * receives the canonical request (for diagnostics and tests). */
void pp_sigv4_authorization(const pp_aws_creds *c, const pp_sigv4_request *r, pp_buf *out,
                            pp_buf *canonical);

/* Presign GET https://host/path?query for `expires` seconds: appends the complete query
 * string (the given parameters, the X-Amz-* ones, the session token when present and
 * X-Amz-Signature) to out. */
void pp_sigv4_presign(const pp_aws_creds *c, const char *host, const char *path, const char *query,
                      const char *region, const char *service, time_t when, int expires,
                      pp_buf *out);

/* RFC 3986 unreserved characters kept, everything else %XX (upper case). */
void pp_sigv4_uri_encode(pp_buf *out, const char *s, size_t n, int keep_slash);

/* Lower-case hex SHA-256 of data (65 bytes with the NUL). */
void pp_sigv4_sha256_hex(const void *data, size_t n, char out[65]);

/* The MSK IAM token: presigned kafka-cluster:Connect URL for `region`, valid `expires`
 * seconds (at most 900), with a User-Agent parameter, base64url without padding.
 * *lifetime_ms = (when + expires) in ms since the epoch, capped by the credentials'
 * expiration. */
void pp_msk_token(const pp_aws_creds *c, const char *region, time_t when, int expires,
                  pp_buf *token, int64_t *lifetime_ms);

/* "YYYYMMDDTHHMMSSZ" for t (UTC); out must hold 17 bytes. */
void pp_sigv4_amz_date(time_t t, char out[17]);

#endif
