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

#include "pp_config.h"

/* Translate entries[0..n) (key, value, origin "file:line"), read from the file at path,
 * into c->kafka.settings and c->msk. Returns 0, or -1 with errstr set. */
int pp_kprops_translate(pp_config *c, const pp_kv *entries, size_t n, const char *path,
                        char *errstr, size_t errstr_size);

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
