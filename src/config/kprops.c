/* kprops: Java client.properties -> librdkafka settings and MSK IAM options. */
#include "pp_kprops.h"
#include "pp_buf.h"
#include "pp_log.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <errno.h>
#include <stdarg.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IAM_LOGIN_MODULE "software.amazon.msk.auth.iam.IAMLoginModule"
#define IAM_CLIENT_HANDLER "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
#define IAM_OAUTH_HANDLER "software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler"
#define PLAIN_MODULE "org.apache.kafka.common.security.plain.PlainLoginModule"
#define SCRAM_MODULE "org.apache.kafka.common.security.scram.ScramLoginModule"
#define OAUTH_MODULE "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"

/* Java names with a different librdkafka name; same-named keys pass through. */
static const char *const renames[][2] = {
    {"sasl.mechanism", "sasl.mechanisms"},
    {"delivery.timeout.ms", "message.timeout.ms"},
    {"max.request.size", "message.max.bytes"},
    {"send.buffer.bytes", "socket.send.buffer.bytes"},
    {"receive.buffer.bytes", "socket.receive.buffer.bytes"},
    {"ssl.truststore.certificates", "ssl.ca.pem"},
    {"ssl.keystore.certificate.chain", "ssl.certificate.pem"},
    {"ssl.keystore.key", "ssl.key.pem"},
};

/* Java-client settings with no meaning for librdkafka: one warning each. */
static const char *const java_only[] = {
    "key.serializer",
    "value.serializer",
    "buffer.memory",
    "max.block.ms",
    "interceptor.classes",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.recording.level",
    "metrics.sample.window.ms",
    "partitioner.class",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "security.providers",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "ssl.cipher.suites",
    "sasl.login.class",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.login.retry.backoff.max.ms",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
    "metadata.max.idle.ms",
    "ssl.truststore.password",
    "ssl.keystore.password.type",
    "socket.connection.setup.timeout.max.ms",
    "ssl.engine.factory.class",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.ticket.renew.window.factor",
};

/* Keys translated from other keys at the end, never passed through as they are. */
static const char *const handled[] = {
    "sasl.jaas.config",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
};

/* librdkafka properties whose values are file names (relative to the properties file). */
static const char *const path_keys[] = {"ssl.ca.location",  "ssl.certificate.location",
                                        "ssl.key.location", "ssl.keystore.location",
                                        "ssl.crl.location", "sasl.kerberos.keytab"};

static int in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i]))
            return 1;
    return 0;
}

#define IN(key, list) in_list(key, list, sizeof(list) / sizeof(list[0]))

/* ---- JAAS ---- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Read a token (up to whitespace, '=' or ';') or a double-quoted string into out. */
static const char *read_word(const char *p, pp_buf *out, int *quoted, char *err, size_t n)
{
    pp_buf_reset(out);
    pp_buf_append(out, "", 0);
    *quoted = *p == '"';
    if (*quoted) {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            pp_buf_append(out, p, 1);
        }
        if (*p != '"') {
            pp_errf(err, n, "unterminated quoted value in sasl.jaas.config");
            return NULL;
        }
        return p + 1;
    }
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '=' && *p != ';')
        pp_buf_append(out, p++, 1);
    return p;
}

/* A login module name is quoted in errors only when it has the shape of a Java class name
 * (dotted identifiers): a malformed line may otherwise put part of a secret where the
 * module should be. */
static const char *module_shown(const char *module)
{
    int dot = 0;
    for (const char *p = module; *p; p++) {
        if (*p == '.')
            dot = 1;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
            return "(a word that is not a Java class name)";
    }
    return dot && module[0] != '.' ? module : "(a word that is not a Java class name)";
}

int pp_kprops_parse_jaas(const char *text, char *module, size_t module_size, pp_jaas_option_cb cb,
                         void *opaque, char *err, size_t n)
{
    pp_buf key = {0}, val = {0};
    int quoted, rc = -1, nopt = 0;
    const char *p = skip_ws(text);

    p = read_word(p, &key, &quoted, err, n);
    if (!p || !key.len || quoted) {
        if (p)
            pp_errf(err, n, "sasl.jaas.config must start with a login module class name");
        goto out;
    }
    snprintf(module, module_size, "%s", key.data);
    p = read_word(skip_ws(p), &val, &quoted, err, n);
    if (!p)
        goto out;
    if (strcasecmp(val.data, "required") && strcasecmp(val.data, "requisite") &&
        strcasecmp(val.data, "sufficient") && strcasecmp(val.data, "optional")) {
        /* Never quote what stands there: it may be a value (a password). */
        pp_errf(err, n,
                "sasl.jaas.config: expected a control flag (required, requisite, sufficient or "
                "optional) after the login module %s",
                module_shown(module));
        goto out;
    }
    for (;;) {
        p = skip_ws(p);
        if (*p == ';') {
            p = skip_ws(p + 1);
            if (*p) {
                pp_errf(err, n, "sasl.jaas.config: text after the closing ';'");
                goto out;
            }
            break;
        }
        if (!*p) {
            pp_errf(err, n, "sasl.jaas.config must end with ';'");
            goto out;
        }
        p = read_word(p, &key, &quoted, err, n);
        if (!p)
            goto out;
        p = skip_ws(p);
        nopt++;
        if (!key.len || quoted || *p != '=') {
            /* What stands there is often the rest of a value that held a space or a quote:
             * quoting it would show part of a password. */
            pp_errf(err, n,
                    "sasl.jaas.config: option %d is not name=value; put values with spaces, "
                    "';' or '=' in double quotes (\\\" and \\\\ inside them)",
                    nopt);
            goto out;
        }
        p = read_word(skip_ws(p + 1), &val, &quoted, err, n);
        if (!p)
            goto out;
        if (cb(opaque, key.data, val.data, err, n)) {
            /* Name the option by its position, as the callback may not quote it. */
            char cberr[512];
            snprintf(cberr, sizeof(cberr), "%s", err);
            pp_errf(err, n, "sasl.jaas.config: option %d: %s", nopt, cberr);
            goto out;
        }
    }
    rc = 0;
out:
    pp_buf_free(&key);
    pp_secret_buf_free(&val);
    return rc;
}

/* ---- translation ---- */

typedef struct xlate {
    pp_kprops *out;
    const char *path;
    const pp_kv *entries;
    size_t n;
    const char *origin; /* of the entry being translated */
} xlate;

static const pp_kv *find(const xlate *x, const char *key)
{
    return pp_kv_find(x->entries, x->n, key); /* the last one wins, as in Java */
}

static void put(xlate *x, const char *key, const char *value, const char *origin)
{
    pp_kv_set(&x->out->settings, &x->out->nsettings, key, value, origin);
}

static void set(xlate *x, const char *key, const char *value, const char *origin)
{
    if (IN(key, path_keys) && value[0] && value[0] != '/') {
        char *dir = pp_dirname(x->path);
        char *full = pp_path_join(dir, value);
        put(x, key, full, origin);
        free(full);
        free(dir);
        return;
    }
    put(x, key, value, origin);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = pp_xstrdup(v);
}

static int on_jaas_option(void *opaque, const char *key, const char *value, char *err, size_t n)
{
    xlate *x = opaque;
    pp_kprops *k = x->out;
    if (!strcmp(key, "username"))
        set(x, "sasl.username", value, x->origin);
    else if (!strcmp(key, "password"))
        set(x, "sasl.password", value, x->origin);
    else if (!strcmp(key, "awsRoleArn"))
        set_str(&k->msk.role_arn, value);
    else if (!strcmp(key, "awsRoleSessionName"))
        set_str(&k->msk.role_session_name, value);
    else if (!strcmp(key, "awsRoleExternalId"))
        set_str(&k->msk.external_id, value);
    else if (!strcmp(key, "awsStsRegion"))
        set_str(&k->msk.sts_region, value);
    else if (!strcmp(key, "awsProfileName"))
        set_str(&k->msk.profile, value);
    else if (!strcmp(key, "awsDebugCreds") || !strcmp(key, "awsMaxRetries") ||
             !strcmp(key, "awsMaxBackOffTimeMs") || !strcmp(key, "awsRoleAccessKeyId") ||
             !strcmp(key, "awsRoleSecretAccessKey") || !strcmp(key, "awsRoleSessionToken"))
        pp_log_warn("%s: sasl.jaas.config option %s is not supported by pinpostd; ignored",
                    x->origin, key);
    else
        /* The name is not quoted: after a value with an unquoted space, the "name" is the
         * rest of that value. */
        return pp_errf(err, n,
                       "unknown name; pinpostd knows username, password, awsRoleArn, "
                       "awsRoleSessionName, awsRoleExternalId, awsStsRegion and awsProfileName "
                       "(values with spaces need double quotes)"),
               -1;
    return 0;
}

static int fail(const char *origin, char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const char *origin, char *err, size_t n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pp_errf(err, n, "%s: %s", origin, msg);
    return -1;
}

/* The first bytes of a file say whether it is PEM. */
static int file_is_pem(const char *path)
{
    char head[64] = "";
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t got = fread(head, 1, sizeof(head) - 1, f);
    fclose(f);
    head[got] = '\0';
    return strstr(head, "-----BEGIN") != NULL;
}

/* The store file named by loc, resolved against the properties file's directory, and
 * its type: the explicit *.type setting, else PEM when the file looks like PEM, else JKS
 * (Java's default). NULL with err set when the file cannot be read. Caller frees. */
static char *open_store(const xlate *x, const pp_kv *loc, const pp_kv *type_kv, const char **type,
                        int *pem, char *err, size_t n)
{
    char *dir = pp_dirname(x->path);
    char *path = pp_path_join(dir, loc->value);
    free(dir);
    *pem = file_is_pem(path);
    if (*pem < 0) {
        fail(loc->origin, err, n, "%s: cannot open %s: %s", loc->key, path, strerror(errno));
        free(path);
        return NULL;
    }
    *type = type_kv ? type_kv->value : (*pem == 1 ? "PEM" : "JKS");
    return path;
}

static int translate_stores(xlate *x, char *err, size_t n)
{
    const pp_kv *ts = find(x, "ssl.truststore.location");
    const char *type;
    int pem;
    if (ts) {
        char *path = open_store(x, ts, find(x, "ssl.truststore.type"), &type, &pem, err, n);
        if (!path)
            return -1;
        if (strcasecmp(type, "PEM") != 0 || pem != 1) {
            fail(ts->origin, err, n,
                 "ssl.truststore.location: %s is a %s trust store; librdkafka reads PEM. "
                 "Convert it: keytool -exportcert -rfc -keystore %s -storetype %s -alias "
                 "<alias> -file ca.pem (or openssl pkcs12 -in %s -nokeys -out ca.pem), then "
                 "point ssl.truststore.location at ca.pem",
                 path, type, path, type, path);
            free(path);
            return -1;
        }
        put(x, "ssl.ca.location", path, ts->origin);
        free(path);
    }
    const pp_kv *ks = find(x, "ssl.keystore.location");
    const pp_kv *kp = find(x, "ssl.keystore.password");
    const pp_kv *kk = find(x, "ssl.key.password");
    if (ks) {
        char *path = open_store(x, ks, find(x, "ssl.keystore.type"), &type, &pem, err, n);
        if (!path)
            return -1;
        if (!strcasecmp(type, "PEM")) {
            /* One PEM file holds the private key and the certificate chain. */
            put(x, "ssl.certificate.location", path, ks->origin);
            put(x, "ssl.key.location", path, ks->origin);
            if (kk)
                put(x, "ssl.key.password", kk->value, kk->origin);
        } else if (!strcasecmp(type, "PKCS12")) {
            put(x, "ssl.keystore.location", path, ks->origin);
            if (kp)
                put(x, "ssl.keystore.password", kp->value, kp->origin);
        } else {
            fail(ks->origin, err, n,
                 "ssl.keystore.location: %s is a %s key store; librdkafka reads PEM or "
                 "PKCS12. Convert it: keytool -importkeystore -srckeystore %s -srcstoretype %s "
                 "-destkeystore client.p12 -deststoretype PKCS12, then set "
                 "ssl.keystore.location=client.p12 and ssl.keystore.type=PKCS12",
                 path, type, path, type);
            free(path);
            return -1;
        }
        free(path);
    }
    const pp_kv *eia = find(x, "ssl.endpoint.identification.algorithm");
    if (eia)
        put(x, "ssl.endpoint.identification.algorithm", eia->value[0] ? eia->value : "none",
            eia->origin);
    return 0;
}

static int translate_sasl(xlate *x, char *err, size_t n)
{
    const pp_kv *mech = find(x, "sasl.mechanism");
    const pp_kv *jaas = find(x, "sasl.jaas.config");
    const pp_kv *client_cb = find(x, "sasl.client.callback.handler.class");
    const pp_kv *login_cb = find(x, "sasl.login.callback.handler.class");
    char module[256] = "";

    if (jaas) {
        x->origin = jaas->origin;
        char jerr[512];
        if (pp_kprops_parse_jaas(jaas->value, module, sizeof(module), on_jaas_option, x, jerr,
                                 sizeof(jerr)))
            return fail(jaas->origin, err, n, "%s", jerr);
        if (strcmp(module, PLAIN_MODULE) && strcmp(module, SCRAM_MODULE) &&
            strcmp(module, IAM_LOGIN_MODULE) && strcmp(module, OAUTH_MODULE))
            return fail(jaas->origin, err, n,
                        "sasl.jaas.config: login module %s is not supported (PlainLoginModule, "
                        "ScramLoginModule, IAMLoginModule and OAuthBearerLoginModule with "
                        "IAMOAuthBearerLoginCallbackHandler are)",
                        module_shown(module));
    }
    int iam_oauth = login_cb && !strcmp(login_cb->value, IAM_OAUTH_HANDLER);
    if (login_cb && !iam_oauth)
        return fail(login_cb->origin, err, n,
                    "sasl.login.callback.handler.class %s is not supported (only %s)",
                    login_cb->value, IAM_OAUTH_HANDLER);
    if (client_cb && strcmp(client_cb->value, IAM_CLIENT_HANDLER) &&
        strcmp(client_cb->value, IAM_OAUTH_HANDLER))
        pp_log_warn("%s: sasl.client.callback.handler.class %s has no meaning for pinpostd; "
                    "ignored",
                    client_cb->origin, client_cb->value);
    if (!mech)
        return 0;
    if (!strcmp(mech->value, "AWS_MSK_IAM") || (!strcmp(mech->value, "OAUTHBEARER") && iam_oauth)) {
        if (jaas && strcmp(module, IAM_LOGIN_MODULE) && strcmp(module, OAUTH_MODULE))
            return fail(jaas->origin, err, n, "sasl.mechanism=%s needs %s in sasl.jaas.config",
                        mech->value, IAM_LOGIN_MODULE);
        /* librdkafka has no AWS_MSK_IAM: it is SASL/OAUTHBEARER with an MSK IAM token. */
        x->out->msk.enabled = 1;
        put(x, "sasl.mechanisms", "OAUTHBEARER", mech->origin);
        return 0;
    }
    if (!strcmp(mech->value, "OAUTHBEARER") && jaas && !strcmp(module, OAUTH_MODULE))
        return fail(mech->origin, err, n,
                    "sasl.mechanism=OAUTHBEARER is supported for Amazon MSK IAM only: set "
                    "sasl.login.callback.handler.class=%s",
                    IAM_OAUTH_HANDLER);
    if (jaas && (!strcmp(module, IAM_LOGIN_MODULE)))
        return fail(jaas->origin, err, n, "IAMLoginModule needs sasl.mechanism=AWS_MSK_IAM");
    put(x, "sasl.mechanisms", mech->value, mech->origin);
    return 0;
}

int pp_kprops_translate(const pp_kv *entries, size_t n, const char *path, pp_kprops *out, char *err,
                        size_t errn)
{
    xlate x = {out, path, entries, n, NULL};
    rd_kafka_conf_t *probe = rd_kafka_conf_new();
    int rc = -1;

    memset(out, 0, sizeof(*out));

    for (size_t i = 0; i < n; i++) {
        const pp_kv *e = &entries[i];
        const char *key = e->key;
        char perr[256];
        int renamed = 0;
        if (IN(key, handled) || !strcmp(key, "sasl.mechanism"))
            continue;
        for (size_t r = 0; r < sizeof(renames) / sizeof(renames[0]); r++)
            if (!strcmp(key, renames[r][0])) {
                set(&x, renames[r][1], e->value, e->origin);
                renamed = 1;
            }
        if (renamed)
            continue;
        if (IN(key, java_only)) {
            pp_log_warn("%s: %s is a Java client setting with no librdkafka equivalent; "
                        "ignored",
                        e->origin, key);
            continue;
        }
        /* Pass through what librdkafka knows, by asking it. */
        rd_kafka_conf_res_t res = rd_kafka_conf_set(probe, key, e->value, perr, sizeof(perr));
        if (res == RD_KAFKA_CONF_UNKNOWN) {
            fail(e->origin, err, errn,
                 "unknown Kafka client property '%s' (neither a Java client setting pinpostd "
                 "translates nor a librdkafka property)",
                 key);
            goto out;
        }
        if (res == RD_KAFKA_CONF_INVALID) {
            fail(e->origin, err, errn, "%s: %s", key, perr);
            goto out;
        }
        set(&x, key, e->value, e->origin);
    }
    if (translate_sasl(&x, err, errn) || translate_stores(&x, err, errn))
        goto out;
    rc = 0;
out:
    rd_kafka_conf_destroy(probe);
    if (rc)
        pp_kprops_release(out);
    return rc;
}

void pp_kprops_release(pp_kprops *k)
{
    pp_kv_free(k->settings, k->nsettings);
    free(k->msk.role_arn);
    free(k->msk.role_session_name);
    free(k->msk.external_id);
    free(k->msk.sts_region);
    free(k->msk.profile);
    memset(k, 0, sizeof(*k));
}
