/* awscreds: the AWS credential chain with caching, STS AssumeRole, IMDSv2, via libcurl. */
#include "pp_awscreds.h"
#include "pp_aws_http.h"
#include "pp_aws_region.h"
#include "pp_awsparse.h"
#include "pp_log.h"
#include "pp_secret.h"
#include "pp_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct pp_aws_chain {
    char *profile, *role_arn, *role_session_name, *external_id, *sts_region;
    pthread_mutex_t lock;
    pp_aws_creds cached;
    time_t fetched_at;
    char source[128];
    int sts_default_said; /* the log said once that STS runs in its default region */
};

static char *dup_or_null(const char *s)
{
    return s && *s ? pp_xstrdup(s) : NULL;
}

pp_aws_chain *pp_aws_chain_new(const pp_aws_chain_opts *o)
{
    pp_aws_http_init(); /* before any thread, and before a caller's curl multi handle */
    pp_aws_chain *ch = pp_xcalloc(1, sizeof(*ch));
    ch->profile = dup_or_null(o->profile);
    ch->role_arn = dup_or_null(o->role_arn);
    ch->role_session_name = dup_or_null(o->role_session_name);
    ch->external_id = dup_or_null(o->external_id);
    ch->sts_region = dup_or_null(o->sts_region);
    pthread_mutex_init(&ch->lock, NULL);
    return ch;
}

void pp_aws_chain_destroy(pp_aws_chain *ch)
{
    if (!ch)
        return;
    pp_aws_creds_clear(&ch->cached);
    free(ch->profile);
    free(ch->role_arn);
    free(ch->role_session_name);
    free(ch->external_id);
    free(ch->sts_region);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}

/* Append "; provider: why" to the running explanation. */
static void note(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *why, size_t n, const char *fmt, ...)
{
    size_t used = strlen(why);
    va_list ap;
    if (used + 3 >= n)
        return;
    if (used) {
        strcpy(why + used, "; ");
        used += 2;
    }
    va_start(ap, fmt);
    vsnprintf(why + used, n - used, fmt, ap);
    va_end(ap);
}

/* ---- HTTP ---- */

/* One request through the AWS HTTP client (pp_aws_http); body is form text or NULL. */
static long http(const char *method, const char *url, const struct curl_slist *headers,
                 const char *body, long timeout_ms, pp_buf *resp, char *err, size_t n)
{
    pp_aws_http_req r = {.method = method,
                         .url = url,
                         .headers = headers,
                         .body = body,
                         .body_len = body ? strlen(body) : 0,
                         .timeout_ms = timeout_ms};
    return pp_aws_http_call(&r, resp, err, n);
}

/* Where STS is called and the region its requests are signed for. AWS_ENDPOINT_URL_STS,
 * then AWS_ENDPOINT_URL, override the address, as in the AWS SDKs. The region follows the
 * one region rule: the chain's sts_region (awsStsRegion; the Kinesis clients pass their
 * region), AWS_REGION, AWS_DEFAULT_REGION. With none of them, us-east-1's regional
 * endpoint, said once in the log: it is aws-msk-iam-auth's documented default for
 * awsStsRegion, and no guess about where the caller's resources are, since STS issues the
 * same credentials in every region, and a regional endpoint's session tokens (unlike the
 * global sts.amazonaws.com's) hold in opt-in regions too. Returns 0, or -1 with err when a
 * region setting holds no region name. */
static int sts_endpoint(pp_aws_chain *ch, pp_buf *url, pp_buf *host,
                        char region[PP_AWS_REGION_MAX + 1], char *err, size_t n)
{
    pp_aws_region_src src = {.who = "STS", .setting = "awsStsRegion", .value = ch->sts_region};
    enum pp_aws_region_rc rc = pp_aws_region(&src, region, PP_AWS_REGION_MAX + 1, err, n);
    if (rc == PP_AWS_REGION_BAD)
        return -1;
    if (rc == PP_AWS_REGION_NONE) {
        snprintf(region, PP_AWS_REGION_MAX + 1, "us-east-1");
        if (!ch->sts_default_said)
            pp_log_info("STS: no region set (awsStsRegion, AWS_REGION, AWS_DEFAULT_REGION): "
                        "calling STS in us-east-1, the default of aws-msk-iam-auth");
        ch->sts_default_said = 1;
    }
    const char *e = getenv("AWS_ENDPOINT_URL_STS");
    if (!e || !*e)
        e = getenv("AWS_ENDPOINT_URL");
    if (e && *e) {
        pp_buf_puts(url, e);
        const char *h = strstr(e, "://");
        h = h ? h + 3 : e;
        size_t hl = strcspn(h, "/");
        pp_buf_append(host, h, hl);
        if (url->data[url->len - 1] != '/')
            pp_buf_append(url, "/", 1);
    } else {
        pp_buf_printf(host, "sts.%s.amazonaws.com", region);
        pp_buf_printf(url, "https://%s/", host->data);
    }
    return 0;
}

static void form_add(pp_buf *b, const char *name, const char *value)
{
    if (b->len)
        pp_buf_append(b, "&", 1);
    pp_buf_puts(b, name);
    pp_buf_append(b, "=", 1);
    pp_sigv4_uri_encode(b, value, strlen(value), 0);
}

static int assume_role(pp_aws_chain *ch, const pp_aws_creds *base, pp_aws_creds *out, char *err,
                       size_t n)
{
    pp_buf url = {0}, host = {0}, body = PP_SECRET_BUF, resp = PP_SECRET_BUF;
    char region[PP_AWS_REGION_MAX + 1], herr[512];
    int rc = -1;

    if (sts_endpoint(ch, &url, &host, region, herr, sizeof(herr)) != 0) {
        pp_errf(err, n, "STS AssumeRole %s: %s", ch->role_arn, herr);
        goto out;
    }
    form_add(&body, "Action", "AssumeRole");
    form_add(&body, "RoleArn", ch->role_arn);
    form_add(&body, "RoleSessionName", ch->role_session_name ? ch->role_session_name : "pinpostd");
    if (ch->external_id)
        form_add(&body, "ExternalId", ch->external_id);
    form_add(&body, "Version", "2011-06-15");

    const char *sig_headers[] = {"Content-Type",
                                 "application/x-www-form-urlencoded; charset=utf-8"};
    pp_sigv4_request r = {.method = "POST",
                          .path = "/",
                          .query = "",
                          .headers = sig_headers,
                          .nheaders = 1,
                          .payload = body.data,
                          .payload_len = body.len,
                          .region = region,
                          .service = "sts",
                          .when = time(NULL)};
    struct curl_slist *hl = pp_aws_http_signed_headers(base, host.data, &r);
    pp_aws_http_header(&hl, "Accept", "application/xml");
    long status = http("POST", url.data, hl, body.data, 10000, &resp, herr, sizeof(herr));
    pp_aws_http_headers_free(hl);
    if (status < 0) {
        pp_errf(err, n, "STS AssumeRole %s: %s", ch->role_arn, herr);
    } else if (status != 200) {
        char *msg = pp_aws_xml_text(resp.data, "Message");
        pp_errf(err, n, "STS AssumeRole %s: HTTP %ld from %s: %s", ch->role_arn, status, url.data,
                msg ? msg : "(no message)");
        free(msg);
    } else {
        rc = pp_aws_parse_sts(resp.data, out, err, n);
    }
out:
    pp_buf_free(&url);
    pp_buf_free(&host);
    pp_secret_buf_free(&body);
    pp_secret_buf_free(&resp); /* the new role's keys */
    return rc;
}

/* ---- providers: each returns 1 found, 0 not configured, -1 failed (why noted) ---- */

static int from_env(pp_aws_creds *out, char *why, size_t n)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret) {
        note(why, n, "environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set");
        return 0;
    }
    pp_aws_creds_set(out, id, secret, getenv("AWS_SESSION_TOKEN"), 0);
    return 1;
}

/* The whole file, NUL-terminated, or NULL with errno set. Caller frees. */
static char *read_small_file(const char *path)
{
    pp_buf b = PP_SECRET_BUF; /* credentials files, web identity tokens */
    if (pp_buf_read_file(&b, path, 1 << 20) != 0) {
        int e = errno;
        pp_secret_buf_free(&b);
        errno = e;
        return NULL;
    }
    return b.data;
}

static int from_web_identity(pp_aws_chain *ch, pp_aws_creds *out, char *why, size_t n)
{
    const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = getenv("AWS_ROLE_ARN");
    if (!file || !*file || !role || !*role) {
        note(why, n, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN not set");
        return 0;
    }
    char *tok = read_small_file(file);
    if (!tok) {
        note(why, n, "web identity: cannot read %s: %s", file, strerror(errno));
        return -1;
    }
    tok[strcspn(tok, "\r\n")] = '\0';
    const char *session = getenv("AWS_ROLE_SESSION_NAME");
    pp_buf url = {0}, host = {0}, body = PP_SECRET_BUF, resp = PP_SECRET_BUF;
    char region[PP_AWS_REGION_MAX + 1], herr[512], perr[512];
    int rc = -1;
    if (sts_endpoint(ch, &url, &host, region, herr, sizeof(herr)) != 0) {
        note(why, n, "web identity: %s", herr);
        pp_secret_free(tok);
        goto out;
    }
    form_add(&body, "Action", "AssumeRoleWithWebIdentity");
    form_add(&body, "RoleArn", role);
    form_add(&body, "RoleSessionName", session && *session ? session : "pinpostd");
    form_add(&body, "WebIdentityToken", tok);
    form_add(&body, "Version", "2011-06-15");
    pp_secret_free(tok);
    /* Unsigned: the web identity token is the proof. */
    struct curl_slist *hl = NULL;
    pp_aws_http_header(&hl, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    pp_aws_http_header(&hl, "Accept", "application/xml");
    long status = http("POST", url.data, hl, body.data, 10000, &resp, herr, sizeof(herr));
    pp_aws_http_headers_free(hl);
    if (status < 0)
        note(why, n, "web identity: %s", herr);
    else if (status != 200)
        note(why, n, "web identity: STS HTTP %ld", status);
    else if (pp_aws_parse_sts(resp.data, out, perr, sizeof(perr)))
        note(why, n, "web identity: %s", perr);
    else
        rc = 1;
out:
    pp_buf_free(&url);
    pp_buf_free(&host);
    pp_secret_buf_free(&body); /* the web identity token */
    pp_secret_buf_free(&resp); /* the role's keys */
    return rc;
}

static int from_files(pp_aws_chain *ch, pp_aws_creds *out, char *why, size_t n)
{
    const char *profile = ch->profile ? ch->profile : getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";
    const char *home = getenv("HOME");
    const char *cred_env = getenv("AWS_SHARED_CREDENTIALS_FILE"),
               *conf_env = getenv("AWS_CONFIG_FILE");
    pp_buf cred_path = {0}, conf_path = {0}, conf_section = {0};
    if (cred_env && *cred_env)
        pp_buf_puts(&cred_path, cred_env);
    else
        pp_buf_printf(&cred_path, "%s/.aws/credentials", home ? home : "");
    if (conf_env && *conf_env)
        pp_buf_puts(&conf_path, conf_env);
    else
        pp_buf_printf(&conf_path, "%s/.aws/config", home ? home : "");
    if (!strcmp(profile, "default"))
        pp_buf_puts(&conf_section, "default");
    else
        pp_buf_printf(&conf_section, "profile %s", profile);

    int rc = 0;
    const char *paths[2] = {cred_path.data, conf_path.data};
    const char *sections[2] = {profile, conf_section.data};
    for (int i = 0; i < 2 && rc == 0; i++) {
        char *text = read_small_file(paths[i]);
        if (!text)
            continue;
        char *id = pp_aws_ini_get(text, sections[i], "aws_access_key_id");
        char *secret = pp_aws_ini_get(text, sections[i], "aws_secret_access_key");
        char *token = pp_aws_ini_get(text, sections[i], "aws_session_token");
        if (id && secret) {
            pp_aws_creds_set(out, id, secret, token, 0);
            rc = 1;
        }
        pp_secret_free(text);
        free(id);
        pp_secret_free(secret);
        pp_secret_free(token);
    }
    if (!rc)
        note(why, n, "shared files: no keys for profile %s in %s or %s", profile, cred_path.data,
             conf_path.data);
    pp_buf_free(&cred_path);
    pp_buf_free(&conf_path);
    pp_buf_free(&conf_section);
    return rc;
}

static int from_container(pp_aws_creds *out, char *why, size_t n)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    pp_buf url = {0}, resp = PP_SECRET_BUF;
    if (rel && *rel)
        pp_buf_printf(&url, "http://169.254.170.2%s", rel);
    else if (full && *full)
        pp_buf_puts(&url, full);
    else {
        note(why, n, "container: AWS_CONTAINER_CREDENTIALS_*_URI not set");
        return 0;
    }
    const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *tok_file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    char *file_tok = tok_file && *tok_file ? read_small_file(tok_file) : NULL;
    if (file_tok) {
        file_tok[strcspn(file_tok, "\r\n")] = '\0';
        tok = file_tok;
    }
    struct curl_slist *hl = NULL;
    if (tok && *tok)
        pp_aws_http_header(&hl, "Authorization", tok);
    char herr[512], perr[512];
    int rc = -1;
    long status = http("GET", url.data, hl, NULL, 2000, &resp, herr, sizeof(herr));
    pp_aws_http_headers_free(hl);
    if (status < 0)
        note(why, n, "container: %s", herr);
    else if (status != 200)
        note(why, n, "container: %s answered HTTP %ld", url.data, status);
    else if (pp_aws_parse_json_creds(resp.data, out, perr, sizeof(perr)))
        note(why, n, "container: %s", perr);
    else
        rc = 1;
    pp_secret_free(file_tok);
    pp_buf_free(&url);
    pp_secret_buf_free(&resp); /* the keys */
    return rc;
}

static int from_imds(pp_aws_creds *out, char *why, size_t n)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    if (disabled && !strcasecmp(disabled, "true")) {
        note(why, n, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
        return 0;
    }
    const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base || !*base)
        base = "http://169.254.169.254";
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    pp_buf url = {0}, resp = PP_SECRET_BUF;
    struct curl_slist *put_h = NULL, *get_h = NULL;
    char herr[512];
    int rc = -1;

    /* IMDSv2: a session token first, then every request carries it. */
    pp_buf_printf(&url, "%.*s/latest/api/token", (int)blen, base);
    pp_aws_http_header(&put_h, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
    long status = http("PUT", url.data, put_h, NULL, 1000, &resp, herr, sizeof(herr));
    if (status != 200) {
        if (status < 0)
            note(why, n, "instance metadata: %s", herr);
        else
            note(why, n, "instance metadata: token request answered HTTP %ld", status);
        goto out;
    }
    pp_aws_http_header(&get_h, "X-aws-ec2-metadata-token", resp.data);
    pp_buf_reset(&url);
    pp_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)blen, base);
    status = http("GET", url.data, get_h, NULL, 1000, &resp, herr, sizeof(herr));
    if (status != 200 || !resp.len) {
        note(why, n, "instance metadata: no instance role (HTTP %ld)", status);
        goto out;
    }
    resp.data[strcspn(resp.data, "\r\n")] = '\0';
    char role[256];
    snprintf(role, sizeof(role), "%s", resp.data);
    pp_buf_reset(&url);
    pp_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)blen, base, role);
    status = http("GET", url.data, get_h, NULL, 1000, &resp, herr, sizeof(herr));
    char perr[512];
    if (status != 200)
        note(why, n, "instance metadata: credentials of role %s: HTTP %ld", role, status);
    else if (pp_aws_parse_json_creds(resp.data, out, perr, sizeof(perr)))
        note(why, n, "instance metadata: %s", perr);
    else
        rc = 1;
out:
    pp_aws_http_headers_free(put_h);
    pp_aws_http_headers_free(get_h); /* the session token */
    pp_buf_free(&url);
    pp_secret_buf_free(&resp); /* the session token, then the keys */
    return rc;
}

/* Run the chain: the first provider that is configured decides. */
static int fetch(pp_aws_chain *ch, pp_aws_creds *out, char *source, size_t sn, char *err, size_t n)
{
    char why[2048] = "";
    pp_aws_creds base = {0};
    const char *name = NULL;
    int rc;

    if ((rc = from_env(&base, why, sizeof(why))) != 0)
        name = "environment";
    else if ((rc = from_web_identity(ch, &base, why, sizeof(why))) != 0)
        name = "web identity";
    else if ((rc = from_files(ch, &base, why, sizeof(why))) != 0)
        name = "shared credentials file";
    else if ((rc = from_container(&base, why, sizeof(why))) != 0)
        name = "container credentials";
    else if ((rc = from_imds(&base, why, sizeof(why))) != 0)
        name = "instance metadata";
    if (rc != 1) {
        pp_errf(err, n, "no AWS credentials: %s", why);
        pp_aws_creds_clear(&base);
        return -1;
    }
    if (!ch->role_arn) {
        *out = base;
        snprintf(source, sn, "%s", name);
        return 0;
    }
    rc = assume_role(ch, &base, out, err, n);
    pp_aws_creds_clear(&base);
    if (rc == 0)
        snprintf(source, sn, "role %s assumed with %s credentials", ch->role_arn, name);
    return rc;
}

/* Refresh ahead of expiry: 5 minutes before, or half-way for short-lived credentials. */
static int fresh(const pp_aws_chain *ch, time_t now)
{
    if (!ch->cached.access_key_id)
        return 0;
    if (!ch->cached.expiration)
        return 1;
    time_t life = ch->cached.expiration - ch->fetched_at;
    time_t margin = life < 600 ? life / 2 : 300;
    return now < ch->cached.expiration - margin;
}

static void copy_creds(const pp_aws_creds *from, pp_aws_creds *to)
{
    memset(to, 0, sizeof(*to));
    pp_aws_creds_set(to, from->access_key_id, from->secret_access_key, from->session_token,
                     from->expiration);
}

int pp_aws_chain_get(pp_aws_chain *ch, pp_aws_creds *out, char *source, size_t sn, char *err,
                     size_t n)
{
    int rc = 0;
    time_t now = time(NULL);
    pthread_mutex_lock(&ch->lock);
    if (!fresh(ch, now)) {
        pp_aws_creds got = {0};
        char src[128] = "";
        rc = fetch(ch, &got, src, sizeof(src), err, n);
        if (rc == 0) {
            pp_aws_creds_clear(&ch->cached);
            ch->cached = got;
            ch->fetched_at = now;
            snprintf(ch->source, sizeof(ch->source), "%s", src);
            pp_log_info("AWS credentials from %s%s", src,
                        got.expiration ? ", refreshed ahead of their expiry" : "");
        } else if (ch->cached.access_key_id && ch->cached.expiration > now) {
            /* Keep using credentials that are still valid while the refresh fails. */
            pp_log_warn("refreshing AWS credentials failed (%s); the current ones are valid "
                        "for %lld s more",
                        err, (long long)(ch->cached.expiration - now));
            rc = 0;
        }
    }
    if (rc == 0) {
        copy_creds(&ch->cached, out);
        if (source)
            snprintf(source, sn, "%s", ch->source);
    }
    pthread_mutex_unlock(&ch->lock);
    return rc;
}
