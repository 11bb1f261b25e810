/* pp_kafka: the one librdkafka client set-up of every program that talks to Kafka
 * (pinpostd's sink, pinpost-verify's consumer). From the configuration it builds the
 * rd_kafka_conf: the role's defaults, kafka.settings in order (what client.properties
 * translated to, bootstrap.servers, the YAML's own settings), the role's fixed
 * properties; it maps librdkafka's log lines onto pp_log, and with Amazon MSK IAM
 * (sasl.mechanism=AWS_MSK_IAM) installs the OAUTHBEARER token refresh that signs MSK IAM
 * tokens from the AWS credential chain, served on librdkafka's background thread.
 *
 * Use:
 *   pp_kafka_opts o = {PP_KAFKA_PRODUCER, "pinpostd", 0, me, on_delivery, on_error};
 *   pp_kafka *kc;
 *   rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, n);
 *   ... pp_kafka_conf_set(conf, ...) for the caller's own properties ...
 *   rd_kafka_t *rk = pp_kafka_handle_new(kc, conf, err, n);            // conf taken
 *   ... rd_kafka_poll(rk, ...); if (pp_kafka_auth_failed(kc, why, sizeof(why))) ...
 *   rd_kafka_destroy(rk); pp_kafka_destroy(kc);                        // in this order
 */
#ifndef PP_KAFKA_H
#define PP_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "pp_config.h"

/* What the client is for: its defaults and the properties it may not take. */
enum pp_kafka_role {
    /* acks=all, idempotence, linger.ms=5, message.timeout.ms (60 s with exactly-once, as
     * the transaction timeout allows, else 300 s) before kafka.settings, which may
     * override them; transactional.id after them with kafka.delivery: exactly_once. */
    PP_KAFKA_PRODUCER,
    /* kafka.settings without the producer-only properties (a consumer would only warn
     * about them), then what a reader of a whole run relies on and settings may not
     * change: a fresh group.id, no offset commits, partition EOF events, reading from the
     * earliest offset, isolation.level=read_committed (the caller may set it again). */
    PP_KAFKA_CONSUMER
};

typedef struct pp_kafka_opts {
    enum pp_kafka_role role;
    const char *client_id; /* client.id; NULL: "pinpostd" */
    /* --demo: librdkafka's in-process mock cluster of three brokers; bootstrap.servers
     * and MSK IAM of the configuration are left out. */
    int demo;
    /* The caller's own pointer: the last argument of on_delivery and on_error, and what
     * pp_kafka_app() returns from the opaque of any other librdkafka callback the caller
     * installs (the conf's opaque is the pp_kafka). */
    void *app;
    /* Optional: a producer's delivery reports (librdkafka's dr_msg_cb, opaque = app).
     * @locality: the thread calling rd_kafka_poll/flush. */
    void (*on_delivery)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *app);
    /* Optional: every error event (librdkafka's error_cb, opaque = app), after the client
     * has noted rejected credentials (pp_kafka_auth_failed). Install error handling
     * here, never with rd_kafka_conf_set_error_cb, which would replace the client's.
     * With it, librdkafka's own log lines are at most warnings (the caller reports the
     * errors, once and with context); without it they keep librdkafka's level.
     * @locality: the thread calling rd_kafka_poll (or consumer_poll, flush). */
    void (*on_error)(rd_kafka_t *rk, int err, const char *reason, void *app);
    /* > 0: librdkafka's statistics (statistics.interval.ms, unless kafka.settings sets it)
     * are kept, the latest for pp_kafka_stats. 0: none asked for. */
    int stats_interval_ms;
} pp_kafka_opts;

/* The state the client's callbacks share: the role, the MSK IAM signer and the caller's
 * pointer. It must outlive the rd_kafka_t made from its conf. */
typedef struct pp_kafka pp_kafka;

/* Build the configuration of a client for c (and c's MSK IAM options) as o says, with
 * the log callback and, with MSK IAM, the token refresh callback installed. *state gets
 * the client's state, which is also the conf's opaque. Returns the conf: add your own
 * callbacks and properties, then hand it to pp_kafka_handle_new. Returns NULL with
 * errstr naming the setting and where it came from ("client.properties:3: kafka setting
 * 'linger.ms': ...") or what is missing (no bootstrap.servers; MSK IAM without a
 * region), and *state NULL. c is read during the call only. */
rd_kafka_conf_t *pp_kafka_conf_new(const pp_config *c, const pp_kafka_opts *o, pp_kafka **state,
                                   char *errstr, size_t errstr_size);

/* Set one property, with an error "origin: kafka setting 'key': why". Returns 0 or -1. */
int pp_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *origin,
                      char *errstr, size_t errstr_size);

/* Create the producer or consumer (by the role) from conf, which it takes in every case,
 * and with MSK IAM start refreshing tokens on librdkafka's background thread, so a long
 * idle gap never lets the token lapse. Returns the handle (destroy it before the state),
 * or NULL with errstr set. */
rd_kafka_t *pp_kafka_handle_new(pp_kafka *state, rd_kafka_conf_t *conf, char *errstr,
                                size_t errstr_size);

/* The caller's pointer (pp_kafka_opts.app) from the opaque a librdkafka callback of this
 * client receives. */
void *pp_kafka_app(void *opaque);

/* True once a broker rejected the client's credentials or TLS settings (an
 * authentication or SSL error event: retrying will not help); reason (when not NULL)
 * gets librdkafka's words for the last one. Error events are served by the caller's
 * rd_kafka_poll, so call it first. */
int pp_kafka_auth_failed(const pp_kafka *state, char *reason, size_t reason_size);

/* librdkafka's latest statistics JSON (with pp_kafka_opts.stats_interval_ms), or NULL when
 * none has come yet. Valid until the next rd_kafka_poll of the handle (which may replace it)
 * or pp_kafka_destroy. @locality: the thread calling rd_kafka_poll. */
const char *pp_kafka_stats(const pp_kafka *state);

/* Free the state; after rd_kafka_destroy of the handle made from it. NULL is fine. */
void pp_kafka_destroy(pp_kafka *state);

/* True for a property that only a producer uses (acks, linger.ms, transactional.id...). */
int pp_kafka_producer_only(const char *key);

/* True for a librdkafka log line (facility, text) that reports a transient error
 * librdkafka retries by itself, such as a starting broker's "Coordinator load in
 * progress" when acquiring the idempotent producer id: the log callback shows those at
 * info, not at librdkafka's warning. */
int pp_kafka_log_transient(const char *facility, const char *line);

/* The first librdkafka version with SASL re-authentication (KIP-368), as
 * rd_kafka_version() encodes it: older ones reconnect when a broker ends the session. */
#define PP_KAFKA_REAUTH_VERSION 0x020200ff

/* The warning pinpostd logs once, when a producer with MSK IAM is made on a librdkafka
 * older than PP_KAFKA_REAUTH_VERSION (version: rd_kafka_version()); 0 when there is
 * nothing to say. Written to buf (at most n bytes). */
int pp_kafka_reauth_warning(int version, char *buf, size_t n);

#endif
