/* sigv4: AWS Signature Version 4 signing and the MSK IAM token. */
#include "pp_sigv4.h"
#include "pp_secret.h"
#include "pp_version.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pp_aws_creds_clear(pp_aws_creds *c)
{
    char *fields[] = {c->access_key_id, c->secret_access_key, c->session_token};
    for (int i = 0; i < 3; i++)
        pp_secret_free(fields[i]);
    memset(c, 0, sizeof(*c));
}

void pp_sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void hmac(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &len);
}

void pp_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void pp_sigv4_uri_encode(pp_buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            pp_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            pp_buf_append(out, e, 3);
        }
    }
}

/* Signing key for date/region/service, then the hex signature of string_to_sign. */
static void signature(const pp_aws_creds *c, const char *date8, const char *region,
                      const char *service, const char *string_to_sign, char out[65])
{
    unsigned char k[32];
    size_t slen = strlen(c->secret_access_key) + 5;
    char *secret = malloc(slen);
    if (!secret)
        abort();
    snprintf(secret, slen, "AWS4%s", c->secret_access_key);
    hmac(secret, strlen(secret), date8, k);
    pp_secret_free(secret);
    hmac(k, 32, region, k);
    hmac(k, 32, service, k);
    hmac(k, 32, "aws4_request", k);
    unsigned char sig[32];
    hmac(k, 32, string_to_sign, sig);
    pp_wipe(k, sizeof(k));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sig[i]);
}

/* A query parameter split into its encoded name and value. */
typedef struct param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} param;

static int param_cmp(const void *a, const void *b)
{
    const param *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c || x->name_len != y->name_len)
        return c ? c : (x->name_len < y->name_len ? -1 : 1);
    n = x->value_len < y->value_len ? x->value_len : y->value_len;
    c = memcmp(x->value, y->value, n);
    return c ? c : (x->value_len < y->value_len ? -1 : x->value_len > y->value_len);
}

/* Canonical query string: parameters sorted by name then value. The parameters are
 * taken as already encoded. */
static void canonical_query(pp_buf *out, const char *query)
{
    size_t n = 0, cap = 8;
    param *p = malloc(cap * sizeof(param));
    if (!p)
        abort();
    for (const char *s = query; s && *s;) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len) {
            if (n == cap) {
                cap *= 2;
                p = realloc(p, cap * sizeof(param));
                if (!p)
                    abort();
            }
            const char *eq = memchr(s, '=', len);
            p[n].name = s;
            p[n].name_len = eq ? (size_t)(eq - s) : len;
            p[n].value = eq ? eq + 1 : s + len;
            p[n].value_len = eq ? len - p[n].name_len - 1 : 0;
            n++;
        }
        s = amp ? amp + 1 : s + len;
    }
    qsort(p, n, sizeof(param), param_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            pp_buf_append(out, "&", 1);
        pp_buf_append(out, p[i].name, p[i].name_len);
        pp_buf_append(out, "=", 1);
        pp_buf_append(out, p[i].value, p[i].value_len);
    }
    free(p);
}

typedef struct header {
    char *name;   /* lower case */
    pp_buf value; /* trimmed, inner runs of spaces collapsed */
} header;

static int header_cmp(const void *a, const void *b)
{
    return strcmp(((const header *)a)->name, ((const header *)b)->name);
}

void pp_sigv4_authorization(const pp_aws_creds *c, const pp_sigv4_request *r, pp_buf *out,
                            pp_buf *canonical_out)
{
    /* The canonical request holds the header values, the session token among them. */
    pp_buf canon = PP_SECRET_BUF, signed_headers = {0}, sts = {0};
    char amz_date[17], date8[9], payload_hash[65], canon_hash[65], sig[65];
    header *h = calloc(r->nheaders ? r->nheaders : 1, sizeof(header));
    size_t nh = 0;
    if (!h)
        abort();

    pp_sigv4_amz_date(r->when, amz_date);
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';

    /* Headers: lower-case names; values trimmed with runs of spaces collapsed; repeated
     * names joined with commas. */
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[2 * i], *value = r->headers[2 * i + 1];
        char *lname = strdup(name);
        if (!lname)
            abort();
        for (char *q = lname; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q + 32);
        header *dst = NULL;
        for (size_t j = 0; j < nh; j++)
            if (!strcmp(h[j].name, lname))
                dst = &h[j];
        if (dst) {
            free(lname);
            pp_buf_append(&dst->value, ",", 1);
        } else {
            dst = &h[nh++];
            dst->name = lname;
            dst->value.secret = 1; /* x-amz-security-token, authorization... */
            pp_buf_append(&dst->value, "", 0);
        }
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vlen = strlen(value);
        while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            vlen--;
        for (size_t k = 0; k < vlen; k++) {
            if (value[k] == ' ' && k && value[k - 1] == ' ')
                continue;
            pp_buf_append(&dst->value, &value[k], 1);
        }
    }
    qsort(h, nh, sizeof(header), header_cmp);

    pp_buf_puts(&canon, r->method);
    pp_buf_append(&canon, "\n", 1);
    pp_sigv4_uri_encode(&canon, r->path, strlen(r->path), 1);
    pp_buf_append(&canon, "\n", 1);
    canonical_query(&canon, r->query);
    pp_buf_append(&canon, "\n", 1);
    for (size_t i = 0; i < nh; i++) {
        pp_buf_printf(&canon, "%s:%s\n", h[i].name, h[i].value.data);
        if (i)
            pp_buf_append(&signed_headers, ";", 1);
        pp_buf_puts(&signed_headers, h[i].name);
    }
    pp_buf_printf(&canon, "\n%s\n", signed_headers.data ? signed_headers.data : "");
    pp_sigv4_sha256_hex(r->payload ? r->payload : "", r->payload_len, payload_hash);
    pp_buf_puts(&canon, payload_hash);

    pp_sigv4_sha256_hex(canon.data, canon.len, canon_hash);
    pp_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
                  r->region, r->service, canon_hash);
    signature(c, date8, r->region, r->service, sts.data, sig);
    pp_buf_printf(out,
                  "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                  "Signature=%s",
                  c->access_key_id, date8, r->region, r->service,
                  signed_headers.data ? signed_headers.data : "", sig);
    if (canonical_out)
        pp_buf_append(canonical_out, canon.data, canon.len);

    for (size_t i = 0; i < nh; i++) {
        free(h[i].name);
        pp_secret_buf_free(&h[i].value);
    }
    free(h);
    pp_secret_buf_free(&canon);
    pp_buf_free(&signed_headers);
    pp_buf_free(&sts);
}

void pp_sigv4_presign(const pp_aws_creds *c, const char *host, const char *path, const char *query,
                      const char *region, const char *service, time_t when, int expires,
                      pp_buf *out)
{
    /* The query and the canonical request carry X-Amz-Security-Token. */
    pp_buf q = PP_SECRET_BUF, canon = PP_SECRET_BUF, sts = {0};
    char amz_date[17], date8[9], canon_hash[65], sig[65], empty_hash[65];
    pp_sigv4_amz_date(when, amz_date);
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';

    /* The parameters in the order AWS SDKs write them; the canonical form sorts them. */
    if (query && *query) {
        pp_buf_puts(&q, query);
        pp_buf_append(&q, "&", 1);
    }
    pp_buf_printf(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    pp_buf cred = {0};
    pp_buf_printf(&cred, "%s/%s/%s/%s/aws4_request", c->access_key_id, date8, region, service);
    pp_sigv4_uri_encode(&q, cred.data, cred.len, 0);
    pp_buf_free(&cred);
    pp_buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%d&X-Amz-SignedHeaders=host", amz_date,
                  expires);
    if (c->session_token && *c->session_token) {
        pp_buf_puts(&q, "&X-Amz-Security-Token=");
        pp_sigv4_uri_encode(&q, c->session_token, strlen(c->session_token), 0);
    }

    pp_sigv4_sha256_hex("", 0, empty_hash);
    pp_buf_puts(&canon, "GET\n");
    pp_sigv4_uri_encode(&canon, path, strlen(path), 1);
    pp_buf_append(&canon, "\n", 1);
    canonical_query(&canon, q.data);
    pp_buf_printf(&canon, "\nhost:%s\n\nhost\n%s", host, empty_hash);
    pp_sigv4_sha256_hex(canon.data, canon.len, canon_hash);
    pp_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8, region,
                  service, canon_hash);
    signature(c, date8, region, service, sts.data, sig);
    pp_buf_append(out, q.data, q.len);
    pp_buf_printf(out, "&X-Amz-Signature=%s", sig);
    pp_secret_buf_free(&q);
    pp_secret_buf_free(&canon);
    pp_buf_free(&sts);
}

void pp_msk_token(const pp_aws_creds *c, const char *region, time_t when, int expires,
                  pp_buf *token, int64_t *lifetime_ms)
{
    pp_buf host = {0}, url = PP_SECRET_BUF; /* the presigned URL is the bearer token */
    if (expires > 900)
        expires = 900;
    pp_buf_printf(&host, "kafka.%s.amazonaws.com", region);
    pp_buf_printf(&url, "https://%s/?", host.data);
    pp_sigv4_presign(c, host.data, "/", "Action=kafka-cluster%3AConnect", region, "kafka-cluster",
                     when, expires, &url);
    pp_buf_puts(&url, "&User-Agent=pinpostd%2F" PP_VERSION);
    pp_buf_base64(token, url.data, url.len, 1);
    int64_t life = ((int64_t)when + expires) * 1000;
    if (c->expiration && (int64_t)c->expiration * 1000 < life)
        life = (int64_t)c->expiration * 1000;
    *lifetime_ms = life;
    pp_buf_free(&host);
    pp_secret_buf_free(&url);
}
