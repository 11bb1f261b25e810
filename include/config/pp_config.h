/* pp_config: the daemon's configuration. Built from built-in defaults, then the YAML file
 * (and the files it names: seed-format DB credentials, Java client.properties), then the
 * command line. Every error names file:line and the key, and what to do about it.
 * Secrets (passwords) live only in pp_config and are never printed; see pp_config_print. */
#ifndef PP_CONFIG_H
#define PP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pp_contract.h"
#include "pp_kv.h"
#include "pp_load.h"

/* TLS to the database, as MySQL's --ssl-mode names them. The verify modes check the
 * server certificate against source.tls_ca; verify_identity also checks the host name. */
enum pp_tls_mode {
    PP_TLS_DISABLED,
    PP_TLS_PREFERRED,
    PP_TLS_REQUIRED,
    PP_TLS_VERIFY_CA,
    PP_TLS_VERIFY_IDENTITY
};
extern const char *const pp_tls_mode_names[]; /* indexed by enum pp_tls_mode */

/* Where the load's shape comes from (see emulation below). */
enum pp_shape { PP_SHAPE_DELAY, PP_SHAPE_RATE, PP_SHAPE_STAGES, PP_SHAPE_DIURNAL };

/* A DATETIME/TIMESTAMP column that emulation.timestamps: now fills with the emission time. */
#define PP_LIVE_COLUMNS_MAX 8
typedef struct pp_live_column {
    enum pp_table table;
    char *column;
} pp_live_column;

typedef struct pp_table_conf {
    char *table; /* SQL table name */
    char *key;   /* integer key column shared by the three tables */
} pp_table_conf;

typedef struct pp_config {
    char *path; /* the YAML file, NULL when running on defaults */

    struct {
        char *host;
        int port;
        char *socket;
        char *user;
        char *password; /* secret */
        char *database;
        enum pp_tls_mode tls;
        char *tls_ca; /* PEM CA bundle for the verify modes */
        int connect_timeout_s;
        int batch; /* max keys per round trip */
        double keyspace_refresh_s;
        pp_table_conf tables[PP_NTABLES];
    } source;

    struct {
        int enabled; /* produce to Kafka (default); off for Kinesis alone */
        char *topic_prefix;
        char *topics[PP_NTABLES];      /* NULL: <prefix>.<name> */
        int exactly_once;              /* delivery: exactly_once (transactions) */
        char *transactional_id;        /* NULL: pinpostd-<instance> */
        double transaction_interval_s; /* how long posts gather in one transaction */
        int create_topics;             /* create missing topics with the admin API */
        int partitions;                /* for create_topics; -1 = broker default */
        int replication_factor;        /* for create_topics; -1 = broker default */
        pp_kv *settings;               /* librdkafka properties in order; later entries win */
        size_t nsettings;
        char *aws_region; /* region of the MSK cluster, for MSK IAM */
    } kafka;

    /* Amazon Kinesis Data Streams, next to or instead of Kafka. */
    struct {
        int enabled;
        char *streams[PP_NTABLES]; /* NULL: streaming-<kafka.topic_prefix>-<name> */
        char *region;              /* NULL: AWS_REGION, AWS_DEFAULT_REGION */
        char *endpoint;            /* NULL: https://kinesis.<region>.amazonaws.com */
        char *profile;             /* shared-files profile for the credential chain */
        double linger_s;           /* how long records gather before a PutRecords call */
        double record_timeout_s;   /* how long a record may keep being retried */
        int max_requests;          /* PutRecords calls in flight at once */
    } kinesis;

    /* Amazon MSK IAM authentication (sasl.mechanism=AWS_MSK_IAM in client.properties). */
    struct {
        int enabled;
        char *role_arn;          /* awsRoleArn: assume this role with STS */
        char *role_session_name; /* awsRoleSessionName */
        char *external_id;       /* awsRoleExternalId */
        char *sts_region;        /* awsStsRegion */
        char *profile;           /* awsProfileName */
    } msk;

    struct {
        /* The shape of the load, whichever of emulation.rate, emulation.delay,
         * emulation.stages and emulation.diurnal was set last (the command line after the
         * file): rate and delay are one endless stage, the diurnal curve one endless
         * diurnal stage. */
        enum pp_shape shape;
        double rate;
        double delay_min_s, delay_max_s;
        pp_load load; /* the stages (shape PP_SHAPE_STAGES), arrivals, the daily curve */
        int has_seed;
        uint64_t seed;
        uint64_t count;
        double duration_s;
        double popularity_s;                      /* 0: uniform; otherwise the Zipf exponent */
        int timestamps_now;                       /* emulation.timestamps: now */
        pp_live_column live[PP_LIVE_COLUMNS_MAX]; /* the columns it rewrites */
        size_t nlive;
        double warmup_s;       /* the first seconds kept out of the statistics */
        uint64_t warmup_posts; /* or the first posts */
        double max_backlog_s;  /* arrivals later than this are skipped, not sent; 0: never */
    } emulation;

    struct {
        char *instance; /* with shards, "<instance>-<index>" once pp_config_apply_shard ran */
        /* One of `shards` instances started with one configuration (--shard I/N,
         * service.shards with JOB_COMPLETION_INDEX): rates and the count are divided by
         * shards, the instance name and the seed derived from the index. */
        int shard_index, shards; /* shards 1: not split */
        double summary_interval_s;
        /* Bound on delivering what is in flight when stopping or reloading, for every
         * sink (service.drain_timeout; kafka.flush_timeout is its older name). */
        double drain_timeout_s;
        char *report;       /* path or "-" */
        char *metrics_file; /* Prometheus textfile, rewritten every few seconds */
        /* HOST:PORT or [V6]:PORT of the HTTP /metrics and /healthz endpoint; NULL: off */
        char *metrics_listen;
    } service;
} pp_config;

/* A config holding the built-in defaults. Caller frees with pp_config_destroy. */
pp_config *pp_config_new_defaults(void);
void pp_config_destroy(pp_config *c); /* accepts NULL and half-built configs */

/* Load the YAML file at path over the defaults in c. Returns 0, or -1 with errstr set
 * to "file:line: message". */
int pp_config_load_file(pp_config *c, const char *path, char *errstr, size_t errstr_size);

/* A numeric setting's value: whole-number keys fill i (and u), emulation.seed fills u (the
 * whole uint64 range), real keys fill d, emulation.delay fills d (MIN) and d2 (MAX). */
typedef struct pp_number {
    int64_t i;
    uint64_t u;
    double d, d2;
} pp_number;

/* Parse text as the value of the numeric key (a YAML path such as "emulation.rate"), with
 * the limits of the key table: the one place where the file and the command line are
 * checked. Strict decimal (see pp_parse_double); out-of-range values refused. Returns 0,
 * or -1 with errstr set to the reason ("'1e-13' is not a number from 0.001 to 1e+09
 * posts/s, or 0 (as fast as possible)"), which the caller prefixes with the key or the
 * option. */
int pp_config_parse_number(const char *key, const char *text, pp_number *out, char *errstr,
                           size_t errstr_size);

/* emulation.popularity: "uniform" (*s = 0) or "zipf" / "zipf(S)" / "zipf S" (the Zipf
 * exponent S, above 0 and at most 10; 1 when not given). Returns 0, or -1 with err. */
int pp_config_parse_popularity(const char *text, double *s, char *err, size_t n);

/* emulation.warmup: a duration ("30s") into *secs, or "N posts" into *posts; "0": none. */
int pp_config_parse_warmup(const char *text, double *secs, uint64_t *posts, char *err, size_t n);

/* --shard "I/N": index I from 0 to N-1 out of N (1 to 10000). Returns 0, or -1 with err. */
int pp_config_parse_shard(const char *text, int *index, int *shards, char *err, size_t n);

/* Whether name can be service.instance: no quotes, backslashes or control characters
 * (it goes into message headers, JSON reports and metric labels). */
int pp_config_instance_ok(const char *name);

/* Whether the files written at exit (service.report, service.metrics_file) can be: each a
 * file in a directory this process may write, or a device or pipe it may write. Checked at
 * start and on reload, so that a long run does not end in a report it cannot write.
 * Returns 0, or -1 with errstr naming the key, the path and why. */
int pp_config_check_outputs(const pp_config *c, char *errstr, size_t errstr_size);

/* Split "HOST:PORT" or "[V6]:PORT" (service.metrics_listen): host (without brackets) into
 * host/hostn and the port into *port, each when not NULL. Returns 0, or -1 with err saying
 * what is wrong. */
int pp_config_parse_listen(const char *text, char *host, size_t hostn, int *port, char *err,
                           size_t n);

/* Apply the PINPOSTD_* environment variables (PINPOSTD_BOOTSTRAP_SERVERS, PINPOSTD_DB_HOST,
 * _DB_PORT, _DB_USER, _DB_DATABASE, _DB_PASSWORD_FILE, PINPOSTD_TOPIC_PREFIX, _INSTANCE,
 * _SHARDS, _METRICS_LISTEN, _METRICS_FILE, _REPORT) over the keys they name, checked as the
 * file's values are; after the file, before the command line. A set but empty variable is
 * an error; a PINPOSTD_ name close to one of these is warned about. Returns 0, or -1 with
 * errstr naming the variable. */
int pp_config_apply_env(pp_config *c, char *errstr, size_t errstr_size);

/* Make c instance `index` of `shards` started with one configuration: the instance name
 * (and a configured kafka.transactional_id) becomes "<name>-<index>", the count this shard's share of the configured total (the
 * first count % shards shards send one more), a given seed a different one derived from it
 * and the index; the pacer divides the rates (pp_pacer_init's scale). shards 1 changes
 * nothing. Call once, after the file and the command line. Returns 0, or -1 with err. */
int pp_config_apply_shard(pp_config *c, int index, int shards, char *err, size_t n);

/* The load c describes: its stages, or emulation.rate, emulation.delay or the daily curve
 * as one endless stage (whichever of them was set last). */
void pp_config_load(const pp_config *c, pp_load *out);

/* Add or replace one librdkafka setting. */
void pp_config_set_kafka(pp_config *c, const char *key, const char *value, const char *origin);
/* The current value of a librdkafka setting, or NULL. */
const char *pp_config_get_kafka(const pp_config *c, const char *key);

/* Final consistency checks after file and command line are applied. */
int pp_config_validate(const pp_config *c, char *errstr, size_t errstr_size);

/* Topic name for a table (explicit name, or <prefix>.<name>); caller frees. */
char *pp_config_topic(const pp_config *c, enum pp_table t);

/* Kinesis stream name for a table (explicit, or streaming-<prefix>-<name>); caller frees. */
char *pp_config_stream(const pp_config *c, enum pp_table t);

/* A redacted human-readable summary: secrets shown as "(set)". */
void pp_config_print(const pp_config *c, FILE *out);

/* True for librdkafka property names whose values are secrets. */
int pp_config_is_secret_key(const char *key);

#endif
