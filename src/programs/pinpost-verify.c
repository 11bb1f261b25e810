/* verify_main: pinpost-verify, reads the three topics back with its own consumer and
 * proves every post arrived once and whole (and, with --rows, equal to its DB rows). */
#include "pp_exit.h"
#include "pp_config.h"
#include "pp_file.h"
#include "pp_buf.h"
#include "pp_log.h"
#include "pp_mysql_value.h"
#include "pp_rng.h"
#include "pp_rowcheck.h"
#include "pp_tally.h"
#include "pp_util.h"
#include "pp_version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BATCH 500

typedef struct opts {
    const char *config, *bootstrap, *prefix, *instance, *run_report;
    uint64_t expect;
    int64_t since_ms;
    int rows, read_uncommitted, json, verbosity;
    double timeout_s;
} opts;

/* Messages waiting for their database rows, per table. */
typedef struct pending {
    int64_t key;
    uint64_t seq;
    char *value;
} pending;

typedef struct row_checker {
    MYSQL *db;
    pp_db_column *cols[PP_NTABLES];
    int ncols[PP_NTABLES];
    int key_col[PP_NTABLES];
    char *select[PP_NTABLES]; /* "SELECT ... FROM t WHERE key IN (" */
    pending batch[PP_NTABLES][ROW_BATCH];
    size_t nbatch[PP_NTABLES];
    uint64_t checked, mismatched, missing_rows;
    int shown;
} row_checker;

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: pinpost-verify [-c FILE] [options]\n"
        "Read <prefix>.pin/.geo/.user from the beginning to the end and prove that every\n"
        "post arrived exactly once and whole, joining messages by their pinpostd.instance\n"
        "and pinpostd.seq headers.\n"
        "\n"
        "  -c, --config FILE        pinpostd configuration (Kafka settings, topics, database)\n"
        "  -b, --bootstrap SERVERS  override bootstrap.servers\n"
        "  -p, --topic-prefix P     override kafka.topic_prefix\n"
        "  -i, --instance NAME      verify only this instance (default: every instance)\n"
        "  -e, --expect N           sequence numbers 1..N must all be present\n"
        "      --since MS           skip messages older than MS (ms since the epoch)\n"
        "      --run-report FILE    take instance, --expect and --since from a pinpostd report\n"
        "      --rows               compare every message with its database row\n"
        "      --read-uncommitted   also read messages of aborted or open transactions\n"
        "      --timeout SECS       give up after SECS without progress (default 60)\n"
        "      --json               print the result as one JSON object\n"
        "  -v, -q, -V, -h\n"
        "\n"
        "Exit status: 0 verified, 1 problems found (partial, missing, unexpected,\n"
        "duplicate or mismatched posts), 2 could not verify (unreachable, timeout),\n"
        "64 usage, 78 config or run report.\n");
}

static int parse_args(int argc, char **argv, opts *o)
{
    enum { O_SINCE = 1000, O_REPORT, O_ROWS, O_UNCOMMITTED, O_TIMEOUT, O_JSON };
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"bootstrap", required_argument, NULL, 'b'},
                                             {"topic-prefix", required_argument, NULL, 'p'},
                                             {"instance", required_argument, NULL, 'i'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"since", required_argument, NULL, O_SINCE},
                                             {"run-report", required_argument, NULL, O_REPORT},
                                             {"rows", no_argument, NULL, O_ROWS},
                                             {"read-uncommitted", no_argument, NULL, O_UNCOMMITTED},
                                             {"timeout", required_argument, NULL, O_TIMEOUT},
                                             {"json", no_argument, NULL, O_JSON},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"version", no_argument, NULL, 'V'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch, li;
    char name[32], why[256] = "", q[64];
    pp_number num;
    memset(o, 0, sizeof(*o));
    o->timeout_s = 60;
    while (li = -1, (ch = getopt_long(argc, argv, "c:b:p:i:e:vqVh", longopts, &li)) != -1) {
        /* Errors name the option as typed (not argv[optind - 1], which is wrong for
         * --expect=N and -eN). */
        if (li >= 0)
            snprintf(name, sizeof(name), "--%s", longopts[li].name);
        else
            snprintf(name, sizeof(name), "-%c", ch > 0 && ch < 128 ? ch : '?');
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 'b':
            if (!optarg[strspn(optarg, " \t,")]) {
                snprintf(why, sizeof(why), "names no broker; give host:port[,host:port...]");
                goto bad;
            }
            o->bootstrap = optarg;
            break;
        case 'p':
            if (!*optarg) {
                snprintf(why, sizeof(why), "the prefix is empty");
                goto bad;
            }
            o->prefix = optarg;
            break;
        case 'i': o->instance = optarg; break;
        case 'e':
            /* As many posts as pinpostd's --count can ask for. */
            if (pp_config_parse_number("emulation.count", optarg, &num, why, sizeof(why)))
                goto bad;
            o->expect = num.u;
            break;
        case O_SINCE:
            if (pp_parse_int64(optarg, &o->since_ms) || o->since_ms < 0) {
                snprintf(why, sizeof(why), "'%s' is not a whole number of ms since the epoch",
                         pp_quote_arg(optarg, 0, q, sizeof(q)));
                goto bad;
            }
            break;
        case O_REPORT: o->run_report = optarg; break;
        case O_ROWS: o->rows = 1; break;
        case O_UNCOMMITTED: o->read_uncommitted = 1; break;
        case O_TIMEOUT:
            /* At most a day: the timeout is handed to librdkafka in int milliseconds. */
            if (pp_parse_double(optarg, &o->timeout_s) || o->timeout_s < 0.001 ||
                o->timeout_s > 86400) {
                snprintf(why, sizeof(why), "'%s' is not a number from 0.001 to 86400 seconds",
                         pp_quote_arg(optarg, 0, q, sizeof(q)));
                goto bad;
            }
            break;
        case O_JSON: o->json = 1; break;
        case 'v': o->verbosity++; break;
        case 'q': o->verbosity--; break;
        case 'V': printf("pinpost-verify %s\n", PP_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: goto usage_error; /* getopt has named the option */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pinpost-verify: unexpected argument '%s'\n",
                pp_quote_arg(argv[optind], 0, q, sizeof(q)));
        goto usage_error;
    }
    return 0;
bad:
    fprintf(stderr, "pinpost-verify: %s: %s\n", name, why);
usage_error:
    fprintf(stderr, "Try 'pinpost-verify --help'.\n");
    return -1;
}

/* A JSON number as decimal text for the option parsers: whole numbers in full (cJSON
 * holds a double; 1e18 must read as 1000000000000000000), anything else as %.17g, which
 * they refuse as not whole. */
static void number_text(double v, char *buf, size_t n)
{
    if (v == trunc(v) && fabs(v) < 1e19)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.17g", v);
}

/* instance, posts_delivered and started_at_ms from a pinpostd run report. The numbers
 * pass the same checks as --expect and --since: the file may come from anywhere. */
static int read_run_report(const char *path, opts *o, char **instance, char *err, size_t n)
{
    pp_buf text = {0};
    char num[400], why[256];
    pp_number expect;
    int64_t since;
    if (pp_buf_read_file(&text, path, 1 << 20) != 0) {
        pp_buf_free(&text);
        return pp_errf(err, n, "%s: %s", path, strerror(errno)), -1;
    }
    cJSON *r = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
    pp_buf_free(&text);
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(r, "instance");
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(r, "posts_delivered");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(r, "started_at_ms");
    if (!cJSON_IsString(inst) || !del || !start) {
        cJSON_Delete(r);
        return pp_errf(err, n,
                       "%s: not a pinpostd run report (needs instance, "
                       "posts_delivered, started_at_ms); give the file pinpostd "
                       "--report wrote",
                       path),
               -1;
    }
    int bad = 1;
    if (!cJSON_IsNumber(del)) {
        snprintf(why, sizeof(why), "not a number");
    } else {
        /* As many posts as --expect (and pinpostd's --count) can name. */
        number_text(del->valuedouble, num, sizeof(num));
        bad = pp_config_parse_number("emulation.count", num, &expect, why, sizeof(why));
    }
    if (bad) {
        cJSON_Delete(r);
        return pp_errf(err, n,
                       "%s: posts_delivered: %s; give the file pinpostd --report "
                       "wrote, or --expect",
                       path, why),
               -1;
    }
    if (!cJSON_IsNumber(start) ||
        (number_text(start->valuedouble, num, sizeof(num)), pp_parse_int64(num, &since)) ||
        since < 0) {
        cJSON_Delete(r);
        return pp_errf(err, n,
                       "%s: started_at_ms: not a whole number of ms since the epoch; "
                       "give the file pinpostd --report wrote, or --since",
                       path),
               -1;
    }
    *instance = pp_xstrdup(inst->valuestring);
    if (!o->expect)
        o->expect = expect.u;
    if (!o->since_ms)
        o->since_ms = since;
    cJSON_Delete(r);
    return 0;
}

/* ---- database rows ---- */

static int rows_open(row_checker *rc, const pp_config *c, char *err, size_t n)
{
    rc->db = mysql_init(NULL);
    if (!rc->db)
        return pp_errf(err, n, "mysql_init failed"), -1;
    mysql_options(rc->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(rc->db, c->source.socket ? NULL : c->source.host, c->source.user,
                            c->source.password, c->source.database,
                            c->source.socket ? 0 : (unsigned)c->source.port, c->source.socket, 0))
        return pp_errf(err, n, "connecting to MySQL: %s", mysql_error(rc->db)), -1;
    for (int t = 0; t < PP_NTABLES; t++) {
        const pp_table_conf *tc = &c->source.tables[t];
        pp_buf q = {0};
        pp_buf_puts(&q, "SELECT * FROM ");
        pp_mysql_quote_ident(&q, tc->table);
        pp_buf_puts(&q, " LIMIT 0");
        if (mysql_real_query(rc->db, q.data, q.len)) {
            pp_buf_free(&q);
            return pp_errf(err, n, "table %s: %s", tc->table, mysql_error(rc->db)), -1;
        }
        pp_buf_free(&q);
        MYSQL_RES *res = mysql_store_result(rc->db);
        if (!res)
            return pp_errf(err, n, "table %s: %s", tc->table, mysql_error(rc->db)), -1;
        MYSQL_FIELD *f = mysql_fetch_fields(res);
        rc->ncols[t] = (int)mysql_num_fields(res);
        rc->cols[t] = pp_xcalloc((size_t)rc->ncols[t], sizeof(pp_db_column));
        rc->key_col[t] = -1;
        pp_buf sel = {0};
        pp_buf_puts(&sel, "SELECT ");
        for (int i = 0; i < rc->ncols[t]; i++) {
            rc->cols[t][i].name = pp_xstrdup(f[i].name);
            rc->cols[t][i].type = f[i].type;
            if (!strcmp(f[i].name, tc->key))
                rc->key_col[t] = i;
            if (i)
                pp_buf_puts(&sel, ", ");
            if (f[i].type == MYSQL_TYPE_FLOAT) {
                /* The exact single-precision value, not MySQL's 6-digit rendering. */
                pp_buf_puts(&sel, "CAST(");
                pp_mysql_quote_ident(&sel, f[i].name);
                pp_buf_puts(&sel, " AS DOUBLE)");
            } else {
                pp_mysql_quote_ident(&sel, f[i].name);
            }
        }
        mysql_free_result(res);
        if (rc->key_col[t] < 0) {
            pp_buf_free(&sel);
            return pp_errf(err, n, "table %s has no column %s", tc->table, tc->key), -1;
        }
        pp_buf_puts(&sel, " FROM ");
        pp_mysql_quote_ident(&sel, tc->table);
        pp_buf_puts(&sel, " WHERE ");
        pp_mysql_quote_ident(&sel, tc->key);
        pp_buf_puts(&sel, " IN (");
        rc->select[t] = sel.data;
    }
    return 0;
}

static int rows_flush(row_checker *rc, int t, char *err, size_t n)
{
    if (!rc->nbatch[t])
        return 0;
    pp_buf q = {0};
    pp_buf_puts(&q, rc->select[t]);
    for (size_t i = 0; i < rc->nbatch[t]; i++)
        pp_buf_printf(&q, "%s%" PRId64, i ? "," : "", rc->batch[t][i].key);
    pp_buf_puts(&q, ")");
    int rcode = mysql_real_query(rc->db, q.data, q.len);
    pp_buf_free(&q);
    MYSQL_RES *res = rcode ? NULL : mysql_store_result(rc->db);
    if (!res)
        return pp_errf(err, n, "reading rows: %s", mysql_error(rc->db)), -1;
    for (size_t i = 0; i < rc->nbatch[t]; i++) {
        pending *p = &rc->batch[t][i];
        MYSQL_ROW row;
        char why[512] = "no such row in the database";
        int ok = 0;
        mysql_data_seek(res, 0);
        while ((row = mysql_fetch_row(res))) {
            const char *k = row[rc->key_col[t]];
            if (!k || strtoll(k, NULL, 10) != p->key)
                continue;
            cJSON *v = cJSON_Parse(p->value);
            if (!v)
                snprintf(why, sizeof(why), "value is not valid JSON");
            else
                ok = pp_rowcheck(v, rc->cols[t], rc->ncols[t], row, mysql_fetch_lengths(res), why,
                                 sizeof(why)) == 0;
            cJSON_Delete(v);
            break;
        }
        rc->checked++;
        if (!ok) {
            rc->mismatched++;
            if (rc->shown++ < 10)
                pp_log_err("mismatch: %s seq %" PRIu64 " key %" PRId64 ": %s", pp_table_names[t],
                           p->seq, p->key, why);
        }
        free(p->value);
    }
    mysql_free_result(res);
    rc->nbatch[t] = 0;
    return 0;
}

static void rows_close(row_checker *rc)
{
    for (int t = 0; t < PP_NTABLES; t++) {
        for (size_t i = 0; i < rc->nbatch[t]; i++)
            free(rc->batch[t][i].value);
        for (int i = 0; i < rc->ncols[t]; i++)
            free((char *)rc->cols[t][i].name);
        free(rc->cols[t]);
        free(rc->select[t]);
    }
    if (rc->db)
        mysql_close(rc->db);
}

/* ---- consuming ---- */

static const char *header(rd_kafka_headers_t *h, const char *name, char *buf, size_t n)
{
    const void *val;
    size_t size;
    if (!h || rd_kafka_header_get_last(h, name, &val, &size) || !val || size >= n)
        return NULL;
    memcpy(buf, val, size);
    buf[size] = '\0';
    return buf;
}

/* Producer-only librdkafka properties that a consumer would only warn about. */
static int producer_only(const char *key)
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

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (pp_log_enabled(level > LOG_DEBUG ? LOG_DEBUG : level))
        pp_log(level > LOG_DEBUG ? LOG_DEBUG : level, "kafka %s: %s", fac, buf);
}

static rd_kafka_t *make_consumer(const pp_config *c, const opts *o, char *err, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512], group[64];
    snprintf(group, sizeof(group), "pinpost-verify-%016llx", (unsigned long long)pp_rng_os_seed());
    const char *const base[][2] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"client.id", "pinpost-verify"},
        {"isolation.level", o->read_uncommitted ? "read_uncommitted" : "read_committed"},
    };
    for (size_t i = 0; i < c->kafka.nsettings; i++) {
        const pp_kv *kv = &c->kafka.settings[i];
        if (producer_only(kv->key))
            continue;
        if (rd_kafka_conf_set(conf, kv->key, kv->value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            pp_errf(err, n, "%s: kafka setting '%s': %s", kv->origin, kv->key, e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        rd_kafka_conf_set(conf, base[i][0], base[i][1], e, sizeof(e));
    if (o->bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, e, sizeof(e)) !=
                            RD_KAFKA_CONF_OK) {
        pp_errf(err, n, "--bootstrap: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    if (!rk) {
        pp_errf(err, n, "creating the consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return rk;
}

/* Assign every partition of the three topics from `since` (or the beginning). Returns
 * the number of partitions assigned, or -1. */
static int assign_all(rd_kafka_t *rk, char *const topics[PP_NTABLES], int64_t since_ms,
                      int timeout_ms, char *err, size_t n)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int t = 0; t < PP_NTABLES; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (e || md->topic_cnt != 1 || md->topics[0].err) {
            pp_errf(err, n, "topic %s: %s", topics[t],
                    rd_kafka_err2str(e               ? e
                                     : md->topic_cnt ? md->topics[0].err
                                                     : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
            if (md)
                rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_destroy(parts);
            return -1;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(parts, topics[t], md->topics[0].partitions[p].id)
                ->offset = since_ms ? since_ms : RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
    }
    if (since_ms) {
        /* offsets_for_times takes timestamps in .offset and returns offsets there. */
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, parts, timeout_ms);
        if (e) {
            pp_errf(err, n, "looking up offsets for --since: %s", rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(parts);
            return -1;
        }
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset < 0)
                parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* nothing that recent */
    }
    int cnt = parts->cnt;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e)
        return pp_errf(err, n, "assign: %s", rd_kafka_err2str(e)), -1;
    return cnt;
}

static int table_of(const rd_kafka_message_t *m, char *const topics[PP_NTABLES])
{
    const char *name = rd_kafka_topic_name(m->rkt);
    for (int t = 0; t < PP_NTABLES; t++)
        if (!strcmp(name, topics[t]))
            return t;
    return -1;
}

int main(int argc, char **argv)
{
    /* Before anything opens a file or socket, which would take a closed fd 0-2. */
    if (pp_file_guard_stdio() != 0)
        return PP_EXIT_UNVERIFIED;
    signal(SIGXFSZ, SIG_IGN); /* over ulimit -f: EFBIG, reported, not a silent death */
    pp_log_set_program("pinpost-verify");
    opts o;
    char err[1024] = "";
    char *topics[PP_NTABLES] = {NULL, NULL, NULL};
    char *report_instance = NULL;
    int status = PP_EXIT_UNVERIFIED;
    rd_kafka_t *rk = NULL;
    pp_tally *tally = pp_tally_new();
    row_checker rc;
    memset(&rc, 0, sizeof(rc));

    if (parse_args(argc, argv, &o) != 0) {
        pp_tally_destroy(tally);
        return PP_EXIT_USAGE;
    }
    pp_log_init(o.verbosity - 1);
    pp_config *c = pp_config_new_defaults();
    if (o.config && pp_config_load_file(c, o.config, err, sizeof(err)) != 0) {
        pp_log_err("configuration error: %s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    if (o.prefix) {
        free(c->kafka.topic_prefix);
        c->kafka.topic_prefix = pp_xstrdup(o.prefix);
    }
    if (o.run_report && read_run_report(o.run_report, &o, &report_instance, err, sizeof(err))) {
        pp_log_err("%s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    if (!o.instance)
        o.instance = report_instance;
    if (!o.bootstrap && !pp_config_get_kafka(c, "bootstrap.servers")) {
        fprintf(stderr, "pinpost-verify: no Kafka bootstrap servers: give -c FILE or -b\n");
        status = PP_EXIT_CONFIG;
        goto out;
    }
    for (int t = 0; t < PP_NTABLES; t++)
        topics[t] = pp_config_topic(c, t);
    if (o.rows && rows_open(&rc, c, err, sizeof(err)) != 0) {
        pp_log_err("--rows: %s", err);
        goto out;
    }
    rk = make_consumer(c, &o, err, sizeof(err));
    if (!rk) {
        pp_log_err("%s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    int timeout_ms = (int)(o.timeout_s * 1000);
    int open_parts = assign_all(rk, topics, o.since_ms, timeout_ms, err, sizeof(err));
    if (open_parts < 0) {
        pp_log_err("%s", err);
        goto out;
    }
    int64_t last_progress = pp_now_us();
    while (open_parts > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (pp_now_us() - last_progress > (int64_t)timeout_ms * 1000) {
                fprintf(stderr,
                        "pinpost-verify: no progress for %g s; %d partition(s) not "
                        "read to the end\n",
                        o.timeout_s, open_parts);
                goto out;
            }
            continue;
        }
        last_progress = pp_now_us();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            open_parts--;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            pp_log_err("consumer error: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        }
        rd_kafka_headers_t *h = NULL;
        char inst[256], seqbuf[32], keybuf[32];
        int64_t seq = 0, key = 0;
        int t = table_of(m, topics);
        rd_kafka_message_headers(m, &h);
        const char *in = header(h, "pinpostd.instance", inst, sizeof(inst));
        const char *sq = header(h, "pinpostd.seq", seqbuf, sizeof(seqbuf));
        int keyok = m->key && m->key_len < sizeof(keybuf);
        if (keyok) {
            memcpy(keybuf, m->key, m->key_len);
            keybuf[m->key_len] = '\0';
            keyok = pp_parse_int64(keybuf, &key) == 0;
        }
        if (t < 0 || !in || !sq || pp_parse_int64(sq, &seq) || seq < 1 || !keyok ||
            (o.instance && strcmp(in, o.instance) != 0)) {
            pp_tally_add_other(tally);
        } else {
            pp_tally_add(tally, in, (uint64_t)seq, t, key, m->partition);
            if (o.rows) {
                pending *p = &rc.batch[t][rc.nbatch[t]++];
                p->key = key;
                p->seq = (uint64_t)seq;
                p->value = pp_xmalloc(m->len + 1);
                memcpy(p->value, m->payload, m->len);
                p->value[m->len] = '\0';
                if (rc.nbatch[t] == ROW_BATCH && rows_flush(&rc, t, err, sizeof(err))) {
                    pp_log_err("%s", err);
                    rd_kafka_message_destroy(m);
                    goto out;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    for (int t = 0; o.rows && t < PP_NTABLES; t++)
        if (rows_flush(&rc, t, err, sizeof(err))) {
            pp_log_err("%s", err);
            goto out;
        }

    pp_tally_result r;
    pp_tally_summarise(tally, o.instance, o.expect, &r);
    int bad = r.posts_partial || r.posts_missing || r.posts_unexpected || r.duplicates ||
              r.key_mismatch || r.partition_mismatch || rc.mismatched ||
              (o.expect && r.posts_complete < o.expect);
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "result", bad ? "problems" : "verified");
        if (o.instance)
            cJSON_AddStringToObject(j, "instance", o.instance);
        cJSON_AddNumberToObject(j, "instances", (double)pp_tally_instances(tally));
        cJSON_AddNumberToObject(j, "messages", (double)r.messages);
        cJSON_AddNumberToObject(j, "messages_other", (double)r.other);
        cJSON_AddNumberToObject(j, "posts_complete", (double)r.posts_complete);
        cJSON_AddNumberToObject(j, "posts_partial", (double)r.posts_partial);
        cJSON_AddNumberToObject(j, "posts_missing", (double)r.posts_missing);
        cJSON_AddNumberToObject(j, "posts_unexpected", (double)r.posts_unexpected);
        cJSON_AddNumberToObject(j, "duplicates", (double)r.duplicates);
        cJSON_AddNumberToObject(j, "key_mismatch", (double)r.key_mismatch);
        cJSON_AddNumberToObject(j, "partition_mismatch", (double)r.partition_mismatch);
        cJSON_AddNumberToObject(j, "max_seq", (double)r.max_seq);
        if (o.rows) {
            cJSON_AddNumberToObject(j, "rows_checked", (double)rc.checked);
            cJSON_AddNumberToObject(j, "rows_mismatched", (double)rc.mismatched);
        }
        char *text = cJSON_PrintUnformatted(j);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else {
        printf("messages read: %" PRIu64 " (+%" PRIu64 " from other producers or instances)\n",
               r.messages, r.other);
        printf("posts complete: %" PRIu64 ", partial: %" PRIu64 ", missing: %" PRIu64
               ", duplicate messages: %" PRIu64 ", key mismatches: %" PRIu64
               ", partition mismatches: %" PRIu64 ", beyond the expected count: %" PRIu64 "\n",
               r.posts_complete, r.posts_partial, r.posts_missing, r.duplicates, r.key_mismatch,
               r.partition_mismatch, r.posts_unexpected);
        if (o.rows)
            printf("rows checked: %" PRIu64 ", not matching the database: %" PRIu64 "\n",
                   rc.checked, rc.mismatched);
        if (bad)
            pp_tally_print_problems(tally, o.instance, o.expect, stdout, 10);
        printf("%s\n", bad ? "RESULT: PROBLEMS FOUND" : "RESULT: VERIFIED");
    }
    status = bad ? PP_EXIT_PROBLEMS : 0;
    /* A verdict nobody could read is no verdict (stdout closed, a full disk). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        pp_log_err("cannot write the result to standard output%s",
                   pp_file_stdio_was_closed(1) ? " (it was closed at start)" : "");
        status = PP_EXIT_UNVERIFIED;
    }
out:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    rows_close(&rc);
    for (int t = 0; t < PP_NTABLES; t++)
        free(topics[t]);
    free(report_instance);
    pp_tally_destroy(tally);
    pp_config_destroy(c);
    return status;
}
