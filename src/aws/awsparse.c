/* awsparse: parsers of what AWS endpoints and files answer (STS XML, the credentials
 * JSON of the container and instance metadata services, INI files, ISO 8601 times). */
#include "pp_awsparse.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long pp_aws_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *rest = s + n;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0 && *rest)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

void pp_aws_creds_set(pp_aws_creds *c, const char *id, const char *secret, const char *token,
                      time_t expiration)
{
    pp_aws_creds_clear(c);
    c->access_key_id = pp_xstrdup(id);
    c->secret_access_key = pp_xstrdup(secret);
    c->session_token = token && *token ? pp_xstrdup(token) : NULL;
    c->expiration = expiration;
}

/* The text of the first <tag>...</tag> in xml, XML entities decoded; caller frees. */
char *pp_aws_xml_text(const char *xml, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(xml, open);
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return NULL;
    pp_buf out = {0};
    pp_buf_append(&out, "", 0);
    static const char *const ent[][2] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
    while (a < b) {
        int done = 0;
        for (size_t i = 0; i < 5 && *a == '&'; i++)
            if (!strncmp(a, ent[i][0], strlen(ent[i][0]))) {
                pp_buf_puts(&out, ent[i][1]);
                a += strlen(ent[i][0]);
                done = 1;
                break;
            }
        if (!done)
            pp_buf_append(&out, a++, 1);
    }
    return out.data;
}

/* Credentials out of an STS XML answer. */
int pp_aws_parse_sts(const char *xml, pp_aws_creds *out, char *err, size_t n)
{
    char *id = pp_aws_xml_text(xml, "AccessKeyId"),
         *secret = pp_aws_xml_text(xml, "SecretAccessKey");
    char *token = pp_aws_xml_text(xml, "SessionToken"), *exp = pp_aws_xml_text(xml, "Expiration");
    int rc = -1;
    long long t = exp ? pp_aws_parse_time(exp) : -1;
    if (!id || !secret || t < 0) {
        char *msg = pp_aws_xml_text(xml, "Message");
        pp_errf(err, n, "STS: %s", msg ? msg : "answer without credentials");
        free(msg);
    } else {
        pp_aws_creds_set(out, id, secret, token, (time_t)t);
        rc = 0;
    }
    free(id);
    pp_secret_free(secret);
    pp_secret_free(token);
    free(exp);
    return rc;
}

/* Look up key in [section] of an INI file. Caller frees. */
char *pp_aws_ini_get(const char *text, const char *section, const char *key)
{
    int in = 0;
    const char *line = text;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[4096];
        if (len >= sizeof(buf))
            len = sizeof(buf) - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        char *s = buf;
        while (*s == ' ' || *s == '\t')
            s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close) {
                *close = '\0';
                char *name = s + 1;
                while (*name == ' ')
                    name++;
                in = !strcmp(name, section);
            }
        } else if (in && *s && *s != '#' && *s != ';') {
            char *eq = strchr(s, '=');
            if (eq) {
                char *k = s, *kend = eq;
                while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
                    kend--;
                *kend = '\0';
                char *v = eq + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                if (!strcmp(k, key)) {
                    char *r = pp_xstrdup(v);
                    pp_wipe(buf, sizeof(buf));
                    return r;
                }
            }
        }
        pp_wipe(buf, sizeof(buf));
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* The credentials JSON of the container and instance metadata services. */
int pp_aws_parse_json_creds(const char *text, pp_aws_creds *out, char *err, size_t n)
{
    cJSON *j = cJSON_Parse(text);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(j, "Token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
    int rc = -1;
    if (!cJSON_IsString(id) || !cJSON_IsString(secret)) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "Message");
        pp_errf(err, n, "%s",
                cJSON_IsString(msg) ? msg->valuestring : "answer without credentials");
    } else {
        long long t = cJSON_IsString(exp) ? pp_aws_parse_time(exp->valuestring) : 0;
        pp_aws_creds_set(out, id->valuestring, secret->valuestring,
                         cJSON_IsString(token) ? token->valuestring : NULL, t > 0 ? (time_t)t : 0);
        rc = 0;
    }
    if (cJSON_IsString(secret))
        pp_wipe(secret->valuestring, strlen(secret->valuestring));
    cJSON_Delete(j);
    return rc;
}
