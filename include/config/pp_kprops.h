/* pp_kprops: translate a Java Kafka client.properties into librdkafka settings.
 *
 * Java keys with a librdkafka equivalent are renamed (sasl.mechanism -> sasl.mechanisms,
 * delivery.timeout.ms -> message.timeout.ms, ...); sasl.jaas.config is parsed for the
 * PLAIN and SCRAM login modules (username/password) and for Amazon MSK IAM (the
 * IAMLoginModule options); trust and key stores in PEM become librdkafka's ssl.*
 * locations, JKS and PKCS12 trust stores an error that says how to convert them;
 * `sasl.mechanism=AWS_MSK_IAM` (or OAUTHBEARER with IAMOAuthBearerLoginCallbackHandler)
 * becomes SASL/OAUTHBEARER with pinpostd's MSK IAM token callback. Keys librdkafka knows
 * pass through; Java-only keys warn once and are ignored; anything else is an error
 * naming file:line and the key. */
#ifndef PP_KPROPS_H
#define PP_KPROPS_H

#include <stddef.h>

#include "pp_kv.h"

/* What client.properties says, translated: librdkafka settings and the MSK IAM options.
 * The configuration merges it (config.c); kprops knows nothing of pp_config. */
typedef struct pp_kprops {
    pp_kv *settings; /* librdkafka properties, each key once, in the order first set */
    size_t nsettings;
    struct {
        int enabled;             /* AWS_MSK_IAM: SASL/OAUTHBEARER with an MSK IAM token */
        char *role_arn;          /* the IAMLoginModule options; NULL when not given */
        char *role_session_name; /* awsRoleSessionName */
        char *external_id;       /* awsRoleExternalId */
        char *sts_region;        /* awsStsRegion */
        char *profile;           /* awsProfileName */
    } msk;
} pp_kprops;

/* Translate entries[0..n) (key, value, origin "file:line", in file order; the last of a
 * key wins), read from the file at path (relative file names in it are resolved against
 * its directory), into *out. Returns 0 with *out filled (release it with
 * pp_kprops_release), or -1 with errstr set naming file:line and the key (*out then holds
 * nothing to release). */
int pp_kprops_translate(const pp_kv *entries, size_t n, const char *path, pp_kprops *out,
                        char *errstr, size_t errstr_size);

/* Free what a translation returned (setting values erased: they may be secrets) and
 * empty *k. */
void pp_kprops_release(pp_kprops *k);

/* Parse a JAAS configuration "Module flag key=value ...;". Calls cb for each option with
 * the unquoted value. Returns 0, or -1 with errstr set; an error from cb is prefixed with
 * "sasl.jaas.config: option N: ". Errors never quote option values, nor a name or flag
 * that may be part of one (a value with an unquoted space or quote splits into words).
 * The module name is copied into module (module_size bytes). */
typedef int (*pp_jaas_option_cb)(void *opaque, const char *key, const char *value, char *errstr,
                                 size_t errstr_size);
int pp_kprops_parse_jaas(const char *text, char *module, size_t module_size, pp_jaas_option_cb cb,
                         void *opaque, char *errstr, size_t errstr_size);

#endif
