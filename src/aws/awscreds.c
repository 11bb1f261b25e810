/* awscreds: the AWS credential chain with caching, STS AssumeRole, IMDSv2, via libcurl. */
#include "pp_awscreds.h"
#include "pp_awsparse.h"
#include "pp_log.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
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
};

static char *dup_or_null(const char *s)
{
    return s && *s ? pp_xstrdup(s) : NULL;
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

pp_aws_chain *pp_aws_chain_new(const pp_aws_chain_opts *o)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
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

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    pp_buf *b = opaque;
    if (b->len + size * nmemb > 1 << 20)
        return 0; /* no credential answer is this large */
    pp_buf_append(b, data, size * nmemb);
    return size * nmemb;
}

/* One HTTP request; headers are complete "Name: value" lines. Returns the status, or -1
 * with err set when no answer came. */
static long http(const char *method, const char *url, const char *const *headers, size_t nh,
                 const char *body, long timeout_ms, pp_buf *resp, char *err, size_t n)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    long status = -1;
    if (!h)
        return pp_errf(err, n, "curl_easy_init failed"), -1;
    for (size_t i = 0; i < nh; i++)
        hl = curl_slist_append(hl, headers[i]);
    pp_buf_reset(resp);
    pp_buf_append(resp, "", 0);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (!strcmp(method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        pp_errf(err, n, "%s %s: %s", method, url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return status;
}

static const char *region_default(const char *explicit_region)
{
    if (explicit_region && *explicit_region)
        return explicit_region;
    const char *r = getenv("AWS_REGION");
    if (r && *r)
        return r;
    r = getenv("AWS_DEFAULT_REGION");
    return r && *r ? r : "us-east-1";
}

/* STS endpoint: AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then the regional one. */
static void sts_endpoint(const char *region, pp_buf *url, pp_buf *host)
{
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
    const char *region = region_default(ch->sts_region);
    pp_buf url = {0}, host = {0}, body = {0}, auth = {0}, resp = {0};
    char amz_date[17];
    int rc = -1;
    time_t now = time(NULL);

    sts_endpoint(region, &url, &host);
    form_add(&body, "Action", "AssumeRole");
    form_add(&body, "RoleArn", ch->role_arn);
    form_add(&body, "RoleSessionName", ch->role_session_name ? ch->role_session_name : "pinpostd");
    if (ch->external_id)
        form_add(&body, "ExternalId", ch->external_id);
    form_add(&body, "Version", "2011-06-15");
    pp_sigv4_amz_date(now, amz_date);

    const char *sig_headers[8] = {
        "Content-Type", "application/x-www-form-urlencoded; charset=utf-8",
        "Host",         host.data,
        "X-Amz-Date",   amz_date,
        NULL,           NULL};
    size_t nsig = 3;
    if (base->session_token) {
        sig_headers[6] = "X-Amz-Security-Token";
        sig_headers[7] = base->session_token;
        nsig = 4;
    }
    pp_sigv4_request r = {"POST",    "/",      "",     sig_headers, nsig,
                          body.data, body.len, region, "sts",       now};
    pp_sigv4_authorization(base, &r, &auth, NULL);

    pp_buf h[5] = {{0}};
    pp_buf_printf(&h[0], "Content-Type: %s", sig_headers[1]);
    pp_buf_printf(&h[1], "X-Amz-Date: %s", amz_date);
    pp_buf_printf(&h[2], "Authorization: %s", auth.data);
    pp_buf_puts(&h[3], "Accept: application/xml");
    size_t nh = 4;
    if (base->session_token) {
        pp_buf_printf(&h[4], "X-Amz-Security-Token: %s", base->session_token);
        nh = 5;
    }
    const char *hv[5];
    for (size_t i = 0; i < nh; i++)
        hv[i] = h[i].data;
    char herr[512];
    long status = http("POST", url.data, hv, nh, body.data, 10000, &resp, herr, sizeof(herr));
    if (status < 0) {
        pp_errf(err, n, "STS AssumeRole %s: %s", ch->role_arn, herr);
    } else if (status != 200) {
        char *msg = pp_aws_xml_text(resp.data, "Message");
        pp_errf(err, n, "STS AssumeRole %s: HTTP %ld: %s", ch->role_arn, status,
                msg ? msg : "(no message)");
        free(msg);
    } else {
        rc = pp_aws_parse_sts(resp.data, out, err, n);
    }
    for (size_t i = 0; i < 5; i++) {
        pp_secret_buf_free(&h[i]);
    }
    pp_buf_free(&url);
    pp_buf_free(&host);
    pp_secret_buf_free(&body);
    pp_buf_free(&auth);
    pp_buf_free(&resp);
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
    pp_buf b = {0};
    if (pp_buf_read_file(&b, path, 1 << 20) != 0) {
        int e = errno;
        pp_buf_free(&b);
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
    pp_buf url = {0}, host = {0}, body = {0}, resp = {0};
    sts_endpoint(region_default(ch->sts_region), &url, &host);
    form_add(&body, "Action", "AssumeRoleWithWebIdentity");
    form_add(&body, "RoleArn", role);
    form_add(&body, "RoleSessionName", session && *session ? session : "pinpostd");
    form_add(&body, "WebIdentityToken", tok);
    form_add(&body, "Version", "2011-06-15");
    pp_secret_free(tok);
    const char *hv[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                        "Accept: application/xml"};
    char herr[512], perr[512];
    int rc = -1;
    long status = http("POST", url.data, hv, 2, body.data, 10000, &resp, herr, sizeof(herr));
    if (status < 0)
        note(why, n, "web identity: %s", herr);
    else if (status != 200)
        note(why, n, "web identity: STS HTTP %ld", status);
    else if (pp_aws_parse_sts(resp.data, out, perr, sizeof(perr)))
        note(why, n, "web identity: %s", perr);
    else
        rc = 1;
    pp_buf_free(&url);
    pp_buf_free(&host);
    pp_buf_free(&body);
    pp_buf_free(&resp);
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
    pp_buf url = {0}, auth = {0}, resp = {0};
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
    const char *hv[1];
    size_t nh = 0;
    if (tok && *tok) {
        pp_buf_printf(&auth, "Authorization: %s", tok);
        hv[nh++] = auth.data;
    }
    char herr[512], perr[512];
    int rc = -1;
    long status = http("GET", url.data, hv, nh, NULL, 2000, &resp, herr, sizeof(herr));
    if (status < 0)
        note(why, n, "container: %s", herr);
    else if (status != 200)
        note(why, n, "container: %s answered HTTP %ld", url.data, status);
    else if (pp_aws_parse_json_creds(resp.data, out, perr, sizeof(perr)))
        note(why, n, "container: %s", perr);
    else
        rc = 1;
    pp_secret_free(file_tok);
    if (auth.data)
        pp_secret_buf_free(&auth);
    pp_buf_free(&url);
    pp_buf_free(&resp);
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
    pp_buf url = {0}, resp = {0}, tokhdr = {0};
    char herr[512];
    int rc = -1;

    /* IMDSv2: a session token first, then every request carries it. */
    pp_buf_printf(&url, "%.*s/latest/api/token", (int)blen, base);
    const char *put_h[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600"};
    long status = http("PUT", url.data, put_h, 1, NULL, 1000, &resp, herr, sizeof(herr));
    if (status != 200) {
        if (status < 0)
            note(why, n, "instance metadata: %s", herr);
        else
            note(why, n, "instance metadata: token request answered HTTP %ld", status);
        goto out;
    }
    pp_buf_printf(&tokhdr, "X-aws-ec2-metadata-token: %s", resp.data);
    const char *get_h[] = {tokhdr.data};
    pp_buf_reset(&url);
    pp_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)blen, base);
    status = http("GET", url.data, get_h, 1, NULL, 1000, &resp, herr, sizeof(herr));
    if (status != 200 || !resp.len) {
        note(why, n, "instance metadata: no instance role (HTTP %ld)", status);
        goto out;
    }
    resp.data[strcspn(resp.data, "\r\n")] = '\0';
    char role[256];
    snprintf(role, sizeof(role), "%s", resp.data);
    pp_buf_reset(&url);
    pp_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)blen, base, role);
    status = http("GET", url.data, get_h, 1, NULL, 1000, &resp, herr, sizeof(herr));
    char perr[512];
    if (status != 200)
        note(why, n, "instance metadata: credentials of role %s: HTTP %ld", role, status);
    else if (pp_aws_parse_json_creds(resp.data, out, perr, sizeof(perr)))
        note(why, n, "instance metadata: %s", perr);
    else
        rc = 1;
out:
    if (tokhdr.data)
        pp_secret_buf_free(&tokhdr);
    pp_buf_free(&url);
    pp_buf_free(&resp);
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
