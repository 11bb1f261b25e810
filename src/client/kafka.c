/* kafka: the one librdkafka client set-up: settings, log mapping, MSK IAM tokens. */
#include "pp_kafka.h"
#include "pp_log.h"
#include "pp_msk.h"
#include "pp_rng.h"
#include "pp_secret.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pp_kafka {
    enum pp_kafka_role role;
    void *app;
    void (*on_delivery)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *app);
    void (*on_error)(rd_kafka_t *rk, int err, const char *reason, void *app);
    int auth_failed; /* a broker rejected our credentials or TLS settings */
    char auth_reason[512];
    /* Amazon MSK IAM: OAUTHBEARER tokens signed from the AWS credential chain */
    pp_aws_chain *aws;
    char region[64];
    char *stats; /* librdkafka's latest statistics JSON (owned), or NULL */
};

/* How long a signed MSK IAM token is valid; librdkafka refreshes it at 80% of that. */
#define MSK_TOKEN_LIFETIME_S 900

int pp_kafka_producer_only(const char *key)
{
    static const char *const keys[] = {"acks",
                                       "request.required.acks",
                                       "enable.idempotence",
                                       "linger.ms",
                                       "queue.buffering.max.ms",
                                       "batch.size",
                                       "batch.num.messages",
                                       "compression.type",
                                       "compression.codec",
                                       "message.timeout.ms",
                                       "delivery.timeout.ms",
                                       "retries",
                                       "message.send.max.retries",
                                       "transactional.id",
                                       "partitioner",
                                       "queue.buffering.max.messages",
                                       "queue.buffering.max.kbytes",
                                       "max.in.flight.requests.per.connection",
                                       "max.in.flight",
                                       "sticky.partitioning.linger.ms"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(key, keys[i]))
            return 1;
    return 0;
}

int pp_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *origin,
                      char *e, size_t n)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        pp_errf(e, n, "%s: kafka setting '%s': %s", origin, key, err);
        return -1;
    }
    return 0;
}

void *pp_kafka_app(void *opaque)
{
    return opaque ? ((pp_kafka *)opaque)->app : NULL;
}

int pp_kafka_auth_failed(const pp_kafka *k, char *reason, size_t n)
{
    if (k->auth_failed && reason)
        snprintf(reason, n, "%s", k->auth_reason);
    return k->auth_failed;
}

/* @locality: the thread calling rd_kafka_poll/flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    pp_kafka *k = opaque;
    k->on_delivery(rk, m, k->app);
}

/* @locality: the thread calling rd_kafka_poll (error events are served by it). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    pp_kafka *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL) {
        k->auth_failed = 1;
        snprintf(k->auth_reason, sizeof(k->auth_reason), "%s", reason);
    }
    if (k->on_error)
        k->on_error(rk, err, reason, k->app);
}

/* Keep the latest statistics: a copy, so that librdkafka frees its own at once.
 * @locality: the thread calling rd_kafka_poll. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    pp_kafka *k = opaque;
    (void)rk;
    char *copy = malloc(len + 1);
    if (!copy)
        return 0; /* the previous statistics stay; the next ones may fit */
    memcpy(copy, json, len);
    copy[len] = '\0';
    free(k->stats);
    k->stats = copy;
    return 0;
}

const char *pp_kafka_stats(const pp_kafka *k)
{
    return k ? k->stats : NULL;
}

/* The coordinator errors a broker answers while it is still loading its state (every
 * start of a broker or of a new coordinator): librdkafka retries them by itself. */
static const char *const transient_coordinator[] = {
    "Coordinator load in progress",
    "Coordinator not available",
    "Not coordinator",
};

int pp_kafka_log_transient(const char *fac, const char *buf)
{
    /* librdkafka: "Failed to acquire idempotence PID from broker B: Broker: Coordinator
     * load in progress: retrying" (GETPID, a warning). Only lines that say they retry; a
     * fatal PID error is reported through the error callback and keeps its level. */
    if (!fac || !buf || strcmp(fac, "GETPID") != 0)
        return 0;
    size_t len = strlen(buf), tail = strlen(": retrying");
    if (len < tail || strcmp(buf + len - tail, ": retrying") != 0)
        return 0;
    for (size_t i = 0; i < sizeof(transient_coordinator) / sizeof(transient_coordinator[0]); i++)
        if (strstr(buf, transient_coordinator[i]))
            return 1;
    return 0;
}

/* librdkafka's own lines; pp_log escapes them (broker names and error strings come from
 * outside). A caller that reports error events itself (on_error: the sink, once and with
 * context) gets librdkafka's line for each failed attempt as a warning, not an error of
 * the program; otherwise librdkafka's lines keep their level. The self-retrying coordinator
 * errors of a starting broker (pp_kafka_log_transient) are info, whoever the caller.
 * @locality: any librdkafka thread; pp_log only writes one line to stderr. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const pp_kafka *k = rk ? rd_kafka_opaque(rk) : NULL;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    if (level < LOG_INFO && pp_kafka_log_transient(fac, buf))
        level = LOG_INFO;
    if (k && k->on_error && level < LOG_WARNING)
        level = LOG_WARNING;
    if (pp_log_enabled(level))
        pp_log(level, "kafka %s: %s", fac, buf);
}

/* Every path ends in set_token or set_token_failure, with the reason in the log.
 * @locality: librdkafka's background thread (SASL queue forwarded to it by
 * pp_kafka_handle_new), so a long idle gap between polls never lets the token lapse. */
static void on_token_refresh(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque)
{
    pp_kafka *k = opaque;
    pp_aws_creds creds = {0};
    char err[1024], source[160];
    (void)oauthbearer_config;
    if (pp_aws_chain_get(k->aws, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
        pp_log_err("MSK IAM: cannot sign a token: %s", err);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
        return;
    }
    pp_buf token = PP_SECRET_BUF;
    int64_t lifetime_ms = 0;
    pp_msk_token(&creds, k->region, time(NULL), MSK_TOKEN_LIFETIME_S, &token, &lifetime_ms);
    pp_aws_creds_clear(&creds);
    if (rd_kafka_oauthbearer_set_token(rk, token.data, lifetime_ms, "pinpostd", NULL, 0, err,
                                       sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pp_log_err("MSK IAM: token rejected by librdkafka: %s", err);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
    } else {
        pp_log_info("MSK IAM: new token for %s, valid for %lld s (credentials: %s)", k->region,
                    (long long)(lifetime_ms / 1000 - (int64_t)time(NULL)), source);
    }
    pp_secret_buf_free(&token);
}

/* The producer's defaults: delivery guarantees first, so that kafka.settings (set after
 * them) may override them. */
static int producer_defaults(rd_kafka_conf_t *conf, const pp_config *c, const char *client_id,
                             char *e, size_t n)
{
    const char *const defaults[][2] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"client.id", client_id},
        {"linger.ms", "5"},
        /* In exactly-once mode this may not exceed transaction.timeout.ms (60 s). */
        {"message.timeout.ms", c->kafka.exactly_once ? "60000" : "300000"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (pp_kafka_conf_set(conf, defaults[i][0], defaults[i][1], "built-in default", e, n))
            return -1;
    return 0;
}

/* A reader of a whole run depends on these: set after kafka.settings, which cannot undo
 * them. A fresh group.id per run, since nothing is committed. */
static int consumer_fixed(rd_kafka_conf_t *conf, const char *client_id, char *e, size_t n)
{
    char group[128];
    snprintf(group, sizeof(group), "%s-%016llx", client_id, (unsigned long long)pp_rng_os_seed());
    const char *const fixed[][2] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"client.id", client_id},
        {"isolation.level", "read_committed"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (pp_kafka_conf_set(conf, fixed[i][0], fixed[i][1], "built-in setting", e, n))
            return -1;
    return 0;
}

rd_kafka_conf_t *pp_kafka_conf_new(const pp_config *c, const pp_kafka_opts *o, pp_kafka **state,
                                   char *e, size_t n)
{
    pp_kafka *k = pp_xcalloc(1, sizeof(*k));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *client_id = o->client_id ? o->client_id : "pinpostd";
    int producer = o->role == PP_KAFKA_PRODUCER;

    *state = NULL;
    k->role = o->role;
    k->app = o->app;
    k->on_delivery = o->on_delivery;
    k->on_error = o->on_error;
    if (producer && producer_defaults(conf, c, client_id, e, n))
        goto fail;
    if (o->demo && pp_kafka_conf_set(conf, "test.mock.num.brokers", "3", "--demo", e, n))
        goto fail;
    for (size_t i = 0; i < c->kafka.nsettings; i++) {
        const pp_kv *kv = &c->kafka.settings[i];
        if (o->demo && !strcmp(kv->key, "bootstrap.servers"))
            continue; /* the demo talks to its in-process cluster only */
        if (!producer && pp_kafka_producer_only(kv->key))
            continue;
        if (pp_kafka_conf_set(conf, kv->key, kv->value, kv->origin, e, n))
            goto fail;
    }
    if (!producer && consumer_fixed(conf, client_id, e, n))
        goto fail;
    if (producer && c->kafka.exactly_once) {
        char txid[512];
        if ((size_t)snprintf(txid, sizeof(txid), "pinpostd-%s", c->service.instance) >=
                sizeof(txid) &&
            !c->kafka.transactional_id) {
            /* Cut short, two instances could share an id and fence each other. */
            pp_errf(e, n,
                    "service.instance is too long to make a transactional id (at most %zu "
                    "bytes): shorten it, or set kafka.transactional_id",
                    sizeof(txid) - 10);
            goto fail;
        }
        if (pp_kafka_conf_set(conf, "transactional.id",
                              c->kafka.transactional_id ? c->kafka.transactional_id : txid,
                              "kafka.transactional_id", e, n))
            goto fail;
    }
    if (!o->demo && !pp_config_get_kafka(c, "bootstrap.servers")) {
        pp_errf(e, n,
                "no Kafka bootstrap servers: set bootstrap.servers in the file named by "
                "kafka.properties, or kafka.bootstrap_servers");
        goto fail;
    }
    if (c->msk.enabled && !o->demo) {
        if (pp_msk_region(c, k->region, sizeof(k->region), e, n))
            goto fail;
        k->aws = pp_msk_chain_new(c);
        rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, on_token_refresh);
        /* Served by the background thread once the handle exists (pp_kafka_handle_new). */
        rd_kafka_conf_enable_sasl_queue(conf, 1);
    }
    if (o->stats_interval_ms > 0) {
        char ms[16];
        snprintf(ms, sizeof(ms), "%d", o->stats_interval_ms);
        /* The operator's own kafka.settings value wins. */
        if (!pp_config_get_kafka(c, "statistics.interval.ms") &&
            pp_kafka_conf_set(conf, "statistics.interval.ms", ms, "service.metrics_listen", e, n))
            goto fail;
        rd_kafka_conf_set_stats_cb(conf, on_stats);
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    if (o->on_delivery)
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, k);
    *state = k;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    pp_kafka_destroy(k);
    return NULL;
}

int pp_kafka_reauth_warning(int version, char *buf, size_t n)
{
    if (version >= PP_KAFKA_REAUTH_VERSION)
        return 0;
    snprintf(buf, n,
             "MSK IAM with librdkafka %d.%d.%d, which predates SASL re-authentication "
             "(KIP-368, librdkafka 2.2.0): the broker closes each connection when the IAM "
             "token it was opened with expires (within %d minutes) and the producer "
             "reconnects, so expect a 'Disconnected (after N ms in state UP)' warning and a "
             "brief latency blip each time; posts in flight are retried, not lost. To avoid "
             "it, build pinpostd against librdkafka 2.2.0 or newer (Debian 13's package is "
             "2.8.0), which re-authenticates on the live connection",
             (version >> 24) & 0xff, (version >> 16) & 0xff, (version >> 8) & 0xff,
             MSK_TOKEN_LIFETIME_S / 60);
    return 1;
}

/* Once per process: pinpostd makes a new producer after a reload or a lost sink, and the
 * operator needs the warning once. Called from the main thread only. */
static void warn_old_library_once(void)
{
    static int warned;
    char msg[768];
    if (warned || !pp_kafka_reauth_warning(rd_kafka_version(), msg, sizeof(msg)))
        return;
    warned = 1;
    pp_log_warn("%s", msg);
}

rd_kafka_t *pp_kafka_handle_new(pp_kafka *k, rd_kafka_conf_t *conf, char *e, size_t n)
{
    char err[512];
    int producer = k->role == PP_KAFKA_PRODUCER;
    rd_kafka_t *rk =
        rd_kafka_new(producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new keeps it only on success */
        pp_errf(e, n, "creating the Kafka %s: %s", producer ? "producer" : "consumer", err);
        return NULL;
    }
    if (k->aws && producer)
        warn_old_library_once();
    if (k->aws) {
        rd_kafka_error_t *bg = rd_kafka_sasl_background_callbacks_enable(rk);
        if (bg) {
            pp_errf(e, n, "enabling background token refresh: %s", rd_kafka_error_string(bg));
            rd_kafka_error_destroy(bg);
            rd_kafka_destroy(rk);
            return NULL;
        }
    }
    return rk;
}

void pp_kafka_destroy(pp_kafka *k)
{
    if (!k)
        return;
    pp_aws_chain_destroy(k->aws);
    free(k->stats);
    free(k);
}
