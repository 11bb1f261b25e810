/* awsparse: parsers of what AWS endpoints and files answer (STS XML, the credentials
 * JSON of the container and instance metadata services, INI files, ISO 8601 times, base64,
 * the Kinesis answers). */
#include "pp_awsparse.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <cjson/cJSON.h>
#include <stdint.h>
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

int pp_aws_base64_decode(pp_buf *out, const char *s, size_t n)
{
    size_t pad = 0;
    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if ((pad && (n + pad) % 4) || n % 4 == 1)
        return -1;
    pp_buf_reserve(out, n / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+'             ? 62
                : c == '/'             ? 63
                                       : -1;
        if (v < 0) {
            out->data[out->len] = '\0';
            return -1;
        }
        acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

/* ---- Kinesis answers ---- */

int pp_kinesis_shard_number(const char *shard_id)
{
    const char *d = shard_id ? strrchr(shard_id, '-') : NULL;
    return d ? atoi(d + 1) : -1;
}

void pp_kinesis_parse_error(const char *json, size_t len, long status, char *type, size_t tn,
                            char *msg, size_t mn)
{
    snprintf(type, tn, "HTTP %ld", status);
    msg[0] = '\0';
    cJSON *j = json && len ? cJSON_ParseWithLength(json, len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (!m)
        m = cJSON_GetObjectItemCaseSensitive(j, "Message");
    if (cJSON_IsString(t)) {
        const char *hash = strrchr(t->valuestring, '#');
        snprintf(type, tn, "%s", hash ? hash + 1 : t->valuestring);
    }
    if (cJSON_IsString(m))
        snprintf(msg, mn, "%s", m->valuestring);
    cJSON_Delete(j);
}

int pp_kinesis_parse_list_shards(const char *json, size_t len, char ***ids, size_t *n,
                                 char **next_token, char *err, size_t en)
{
    cJSON *j = json ? cJSON_ParseWithLength(json, len) : NULL;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(j, "Shards");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "NextToken");
    const cJSON *s;
    int i = 0;
    *next_token = NULL;
    if (!cJSON_IsArray(shards)) {
        cJSON_Delete(j);
        return pp_errf(err, en, "ListShards answer without a Shards list"), -1;
    }
    cJSON_ArrayForEach(s, shards)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "ShardId"));
        if (!id || !*id) {
            cJSON_Delete(j);
            return pp_errf(err, en, "ListShards answer: shard %d without a ShardId", i), -1;
        }
        *ids = pp_xrealloc(*ids, (*n + 1) * sizeof(**ids));
        (*ids)[(*n)++] = pp_xstrdup(id);
        i++;
    }
    if (cJSON_IsString(tok) && *tok->valuestring)
        *next_token = pp_xstrdup(tok->valuestring);
    cJSON_Delete(j);
    return 0;
}

int pp_kinesis_parse_shard_iterator(const char *json, size_t len, char **iterator, char *err,
                                    size_t en)
{
    cJSON *j = json ? cJSON_ParseWithLength(json, len) : NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, "ShardIterator");
    int rc = 0;
    *iterator = NULL;
    if (cJSON_IsString(it) && *it->valuestring)
        *iterator = pp_xstrdup(it->valuestring);
    else if (!cJSON_IsNull(it))
        rc = -1, pp_errf(err, en, "GetShardIterator answer without a ShardIterator");
    cJSON_Delete(j);
    return rc;
}

void pp_kinesis_got_free(pp_kinesis_got *g)
{
    free(g->records);
    pp_buf_free(&g->data);
    free(g->next_iterator);
    cJSON_Delete(g->doc);
    memset(g, 0, sizeof(*g));
}

/* A JSON number as whole milliseconds when v seconds (scale 1000) or v milliseconds (scale
 * 1) is in [0, 1e14 ms], else fallback: no cast of an absurd double (undefined behaviour). */
static int64_t whole_ms(const cJSON *v, double scale, int64_t fallback)
{
    if (!cJSON_IsNumber(v))
        return fallback;
    double ms = v->valuedouble * scale;
    return ms >= 0 && ms <= 1e14 ? (int64_t)(ms + 0.5) : fallback;
}

/* A copy of JSON text with every \u0000 escape turned into \uFFFD: cJSON ends a string at
 * the NUL it decodes, so a partition key "7:1:inst\u0000foreign" would read as "7:1:inst",
 * another producer's record taken for ours. With U+FFFD it keeps its length and never
 * matches (no instance name holds control characters). */
static char *without_nul_escapes(const char *json, size_t len)
{
    char *out = pp_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (json[i] == '\\' && i + 5 < len && json[i + 1] == 'u' &&
            !memcmp(json + i + 2, "0000", 4)) {
            memcpy(out + o, "\\uFFFD", 6);
            o += 6;
            i += 5;
        } else if (json[i] == '\\' && i + 1 < len) {
            out[o++] = json[i++]; /* an escape: its second character is not a new one */
            out[o++] = json[i];
        } else {
            out[o++] = json[i];
        }
    }
    out[o] = '\0';
    return out;
}

int pp_kinesis_parse_get_records(const char *json, size_t len, pp_kinesis_got *out, char *err,
                                 size_t en)
{
    pp_kinesis_got_free(out);
    char *text = json ? without_nul_escapes(json, len) : NULL;
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(j, "Records");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "NextShardIterator");
    out->doc = j;
    if (!cJSON_IsArray(records))
        return pp_errf(err, en, "GetRecords answer without a Records list"), -1;
    if (!cJSON_IsNull(next) && next && !cJSON_IsString(next))
        return pp_errf(err, en, "GetRecords answer: NextShardIterator is not a string"), -1;
    out->records = pp_xcalloc((size_t)cJSON_GetArraySize(records) + 1, sizeof(*out->records));
    pp_buf_append(&out->data, "", 0);
    const cJSON *r;
    cJSON_ArrayForEach(r, records)
    {
        pp_kinesis_got_record *g = &out->records[out->n];
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(r, "PartitionKey");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "Data");
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "SequenceNumber");
        if (!cJSON_IsString(pk) || !cJSON_IsString(data) || !cJSON_IsString(seq))
            return pp_errf(err, en,
                           "GetRecords answer: record %zu lacks its PartitionKey, Data or "
                           "SequenceNumber",
                           out->n),
                   -1;
        g->partition_key = pk->valuestring;
        g->partition_key_len = strlen(pk->valuestring);
        g->sequence = seq->valuestring;
        g->data_off = out->data.len;
        if (pp_aws_base64_decode(&out->data, data->valuestring, strlen(data->valuestring)))
            return pp_errf(err, en,
                           "GetRecords answer: the Data of record %zu (sequence number %.40s) "
                           "is not base64",
                           out->n, seq->valuestring),
                   -1;
        g->data_len = out->data.len - g->data_off;
        g->arrival_ms =
            whole_ms(cJSON_GetObjectItemCaseSensitive(r, "ApproximateArrivalTimestamp"), 1000, -1);
        out->n++;
    }
    out->next_iterator =
        cJSON_IsString(next) && *next->valuestring ? pp_xstrdup(next->valuestring) : NULL;
    out->millis_behind = whole_ms(cJSON_GetObjectItemCaseSensitive(j, "MillisBehindLatest"), 1, 0);
    return 0;
}
