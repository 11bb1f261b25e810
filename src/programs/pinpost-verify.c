/* pinpost-verify: reads a run back, the three Kafka topics with its own consumer or the
 * three Kinesis streams (--kinesis), and proves every post arrived once and whole (and,
 * with --rows, equal to its database rows), for one run or a fleet of runs. */
#include "pp_buf.h"
#include "pp_config.h"
#include "pp_contract.h"
#include "pp_exit.h"
#include "pp_file.h"
#include "pp_kafka.h"
#include "pp_kinesis_read.h"
#include "pp_log.h"
#include "pp_rowcheck.h"
#include "pp_tally.h"
#include "pp_util.h"
#include "pp_version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A column pinpostd rewrote with the emission time (emulation.timestamps: now), and who
 * said so (--live-columns or a run report), for error messages. */
typedef struct live_col {
    enum pp_table table;
    char column[128];
    char origin[300];
} live_col;

/* A run to verify: one instance and the posts it delivered. */
typedef struct run {
    char *instance;
    uint64_t expected;  /* 0: 1..the highest sequence number seen */
    const char *report; /* the run report it came from, or NULL */
} run;

typedef struct opts {
    const char *config, *bootstrap, *prefix, *instance;
    const char **reports; /* --run-report, in the order given */
    size_t nreports;
    live_col *live; /* --live-columns, then the reports' timestamps.columns */
    size_t nlive;
    uint64_t expect;
    int64_t since_ms;
    int rows, read_uncommitted, json, verbosity, kinesis;
    double timeout_s;
} opts;

/* Where every message or record read goes: the ledger, and with --rows the row checker. */
typedef struct feed {
    pp_tally *tally;      /* restricted to the runs verified, when named */
    pp_rowcheck_db *rows; /* NULL without --rows */
    char err[1024];       /* why reading stopped: the database could not be read */
} feed;

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: pinpost-verify [-c FILE] [options]\n"
        "Read <prefix>.pin/.geo/.user from the beginning to the end and prove that every\n"
        "post arrived exactly once and whole, joining messages by their pinpostd.instance\n"
        "and pinpostd.seq headers (with --kinesis: the three streams, joining records by\n"
        "their partition key KEY:SEQ:INSTANCE).\n"
        "\n"
        "  -c, --config FILE        pinpostd configuration (Kafka settings, topics, database)\n"
        "  -b, --bootstrap SERVERS  override bootstrap.servers\n"
        "  -p, --topic-prefix P     override kafka.topic_prefix\n"
        "  -i, --instance NAME      verify only this instance (default: every instance)\n"
        "  -e, --expect N           sequence numbers 1..N must all be present\n"
        "      --since MS           skip messages older than MS (ms since the epoch)\n"
        "      --run-report FILE    take instance, --expect and --since from a pinpostd report;\n"
        "                           repeat it for a fleet: each instance is verified against\n"
        "                           its own report, from the earliest start\n"
        "      --rows               compare every message with its database row\n"
        "      --live-columns LIST  TABLE.COLUMN,... that pinpostd rewrote with the emission\n"
        "                           time (emulation.timestamps: now; the run report names\n"
        "                           them too): --rows checks their form, not their rows\n"
        "      --kinesis            read the Kinesis streams of kinesis.* instead of Kafka\n"
        "      --read-uncommitted   also read messages of aborted or open transactions\n"
        "      --timeout SECS       give up after SECS without progress (default 60)\n"
        "      --json               print the result as one JSON object\n"
        "  -v, -q, -V, -h\n"
        "\n"
        "Exit status: 0 verified, 1 problems found (partial, missing, unexpected,\n"
        "duplicate or mismatched posts; in a fleet, in any instance), 2 could not verify\n"
        "(unreachable, timeout), 64 usage, 78 config or run report.\n");
}

/* Add "T.C" to the live columns unless it is there already. Returns 0, or -1 with why. */
static int add_live(opts *o, const char *text, const char *origin, char *why, size_t n)
{
    live_col c;
    if (pp_rowcheck_parse_live(text, &c.table, c.column, sizeof(c.column), why, n))
        return -1;
    for (size_t i = 0; i < o->nlive; i++)
        if (o->live[i].table == c.table && !strcasecmp(o->live[i].column, c.column))
            return 0;
    snprintf(c.origin, sizeof(c.origin), "%s", origin);
    o->live = pp_xrealloc(o->live, (o->nlive + 1) * sizeof(*o->live));
    o->live[o->nlive++] = c;
    return 0;
}

/* --live-columns geo.timestamp,user.date_joined */
static int parse_live_list(opts *o, const char *arg, char *why, size_t n)
{
    char item[256];
    const char *p = arg;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (!len || len >= sizeof(item))
            return pp_errf(why, n,
                           "give a comma-separated list of TABLE.COLUMN (for example "
                           "geo.timestamp,user.date_joined)"),
                   -1;
        memcpy(item, p, len);
        item[len] = '\0';
        if (add_live(o, item, "--live-columns", why, n))
            return -1;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

static void opts_free(opts *o)
{
    free(o->reports);
    free(o->live);
}

static int parse_args(int argc, char **argv, opts *o)
{
    enum { O_SINCE = 1000, O_REPORT, O_ROWS, O_UNCOMMITTED, O_TIMEOUT, O_JSON, O_KINESIS, O_LIVE };
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"bootstrap", required_argument, NULL, 'b'},
                                             {"topic-prefix", required_argument, NULL, 'p'},
                                             {"instance", required_argument, NULL, 'i'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"since", required_argument, NULL, O_SINCE},
                                             {"run-report", required_argument, NULL, O_REPORT},
                                             {"rows", no_argument, NULL, O_ROWS},
                                             {"live-columns", required_argument, NULL, O_LIVE},
                                             {"kinesis", no_argument, NULL, O_KINESIS},
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
    o->reports = pp_xcalloc((size_t)argc + 1, sizeof(*o->reports));
    while (li = -1, (ch = getopt_long(argc, argv, "c:b:p:i:e:vqVh", longopts, &li)) != -1) {
        pp_opt_name(longopts, li, ch, name, sizeof(name));
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
        case O_REPORT: o->reports[o->nreports++] = optarg; break;
        case O_ROWS: o->rows = 1; break;
        case O_LIVE:
            if (parse_live_list(o, optarg, why, sizeof(why)))
                goto bad;
            break;
        case O_KINESIS: o->kinesis = 1; break;
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
    /* A fleet's instances and counts come from their reports, one each. */
    if (o->nreports > 1 && (o->instance || o->expect)) {
        fprintf(stderr,
                "pinpost-verify: %s: with several --run-report files each instance and its "
                "count come from its own report; verify one instance alone with its report\n",
                o->instance ? "--instance" : "--expect");
        goto usage_error;
    }
    if (o->nlive && !o->rows) {
        fprintf(stderr, "pinpost-verify: --live-columns names the columns --rows checks for "
                        "form only; give --rows too\n");
        goto usage_error;
    }
    /* Kafka-only options would be silently ignored by a Kinesis read: refuse them. */
    if (o->kinesis && (o->bootstrap || o->read_uncommitted)) {
        fprintf(stderr,
                "pinpost-verify: --kinesis: %s reads Kafka; the Kinesis streams are those of "
                "kinesis.* in the configuration (and -p)\n",
                o->bootstrap ? "--bootstrap" : "--read-uncommitted");
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

/* The live columns of a report's "timestamps": {"mode": "now", "columns": [...]} (absent,
 * or mode "source": none) added to o->live. Returns 0, or -1 with err. */
static int report_timestamps(const char *path, const cJSON *ts, opts *o, char *err, size_t n)
{
    char why[256], origin[300];
    if (!ts)
        return 0;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(ts, "mode");
    if (!cJSON_IsObject(ts) || !cJSON_IsString(mode) ||
        (strcmp(mode->valuestring, "now") != 0 && strcmp(mode->valuestring, "source") != 0))
        return pp_errf(err, n,
                       "%s: timestamps: not {\"mode\": \"now\" or \"source\", ...}; give the "
                       "file pinpostd --report wrote",
                       path),
               -1;
    if (!strcmp(mode->valuestring, "source"))
        return 0;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(ts, "columns");
    const cJSON *col;
    if (!cJSON_IsArray(cols) || !cJSON_GetArraySize(cols))
        return pp_errf(err, n,
                       "%s: timestamps.columns: not a list of TABLE.COLUMN; give the file "
                       "pinpostd --report wrote, or --live-columns",
                       path),
               -1;
    snprintf(origin, sizeof(origin), "timestamps.columns of %s", path);
    cJSON_ArrayForEach(col, cols)
    {
        if (!cJSON_IsString(col))
            return pp_errf(err, n, "%s: timestamps.columns: not a list of TABLE.COLUMN", path), -1;
        if (add_live(o, col->valuestring, origin, why, sizeof(why)))
            return pp_errf(err, n, "%s: timestamps.columns: %s", path, why), -1;
    }
    return 0;
}

/* instance, posts_delivered, started_at_ms and timestamps from a pinpostd run report,
 * into *out (out->instance: caller frees), *since and o->live. The numbers pass the same
 * checks as --expect and --since: the file may come from anywhere. */
static int read_run_report(const char *path, opts *o, run *out, int64_t *since, char *err, size_t n)
{
    pp_buf text = {0};
    char num[400], why[256];
    pp_number expect;
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
        (number_text(start->valuedouble, num, sizeof(num)), pp_parse_int64(num, since)) ||
        *since < 0) {
        cJSON_Delete(r);
        return pp_errf(err, n,
                       "%s: started_at_ms: not a whole number of ms since the epoch; "
                       "give the file pinpostd --report wrote, or --since",
                       path),
               -1;
    }
    if (report_timestamps(path, cJSON_GetObjectItemCaseSensitive(r, "timestamps"), o, err, n)) {
        cJSON_Delete(r);
        return -1;
    }
    out->instance = pp_xstrdup(inst->valuestring);
    out->expected = expect.u;
    out->report = path;
    cJSON_Delete(r);
    return 0;
}

/* The runs to verify, into *runs (caller frees each instance and the array): one per
 * --run-report, or the one --instance names, or none (every instance, --expect for
 * each). With one report, --instance, --expect and --since override what it says; with
 * several, the earliest start is --since's default. Returns 0, or -1 with err (a report
 * unreadable or invalid, an instance in two reports). */
static int gather_runs(opts *o, run **runs, size_t *nruns, char *err, size_t n)
{
    int64_t earliest = -1;
    *runs = pp_xcalloc(o->nreports + 1, sizeof(run));
    *nruns = 0;
    for (size_t i = 0; i < o->nreports; i++) {
        run *r = &(*runs)[*nruns];
        int64_t since;
        if (read_run_report(o->reports[i], o, r, &since, err, n))
            return -1;
        for (size_t j = 0; j < *nruns; j++)
            if (!strcmp((*runs)[j].instance, r->instance)) {
                /* The logger escapes the instance name, text from outside. */
                pp_errf(err, n,
                        "%s and %s: both report instance %.64s; a fleet's instances have "
                        "distinct names (service.instance, --shard): give each run's "
                        "report once",
                        (*runs)[j].report, r->report, r->instance);
                free(r->instance);
                return -1;
            }
        ++*nruns;
        if (earliest < 0 || since < earliest)
            earliest = since;
    }
    if (!o->since_ms && earliest > 0)
        o->since_ms = earliest;
    if (*nruns == 1) {
        run *r = &(*runs)[0];
        if (o->instance) {
            free(r->instance);
            r->instance = pp_xstrdup(o->instance);
        }
        if (o->expect)
            r->expected = o->expect;
    } else if (!*nruns && o->instance) {
        (*runs)[0] = (run){.instance = pp_xstrdup(o->instance), .expected = o->expect};
        *nruns = 1;
    }
    return 0;
}

/* ---- reading ---- */

/* One message of post seq (key) on table t, recorded by the caller: compared with its
 * row too with --rows. Returns 0, or -1 with f->err set (the database failed). */
static int feed_rows(feed *f, enum pp_table t, int64_t key, uint64_t seq, const void *value,
                     size_t len)
{
    return f->rows ? pp_rowcheck_db_add(f->rows, t, key, seq, value, len, f->err, sizeof(f->err))
                   : 0;
}

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

/* Rejected credentials or TLS settings end a read at once, as they stop pinpostd: waiting
 * longer will not help. Serves the error events first. */
static int auth_failed(rd_kafka_t *rk, const pp_kafka *kc, char *err, size_t n)
{
    char why[512];
    rd_kafka_poll(rk, 0);
    if (!pp_kafka_auth_failed(kc, why, sizeof(why)))
        return 0;
    pp_errf(err, n, "Kafka rejected our credentials or TLS settings: %s", why);
    return 1;
}

/* Metadata of one topic within timeout_ms, asked in slices of at most a second so that
 * rejected credentials are seen between them. */
static rd_kafka_resp_err_t topic_metadata(rd_kafka_t *rk, const pp_kafka *kc, rd_kafka_topic_t *rkt,
                                          const struct rd_kafka_metadata **md, int timeout_ms,
                                          int *rejected, char *err, size_t n)
{
    int64_t deadline = pp_now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left_ms = (deadline - pp_now_us()) / 1000;
        int slice = left_ms > 1000 ? 1000 : left_ms > 0 ? (int)left_ms : 1;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, md, slice);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT)
            return e;
        if ((*rejected = auth_failed(rk, kc, err, n)) || pp_now_us() >= deadline)
            return e;
    }
}

typedef enum assign_rc {
    ASSIGNED,       /* *count partitions assigned */
    ASSIGN_FAILED,  /* unreachable, a topic missing: err says which */
    ASSIGN_REJECTED /* the brokers rejected our credentials or TLS settings */
} assign_rc;

/* Assign every partition of the three topics from `since` (or the beginning). */
static assign_rc assign_all(rd_kafka_t *rk, const pp_kafka *kc, char *const topics[PP_NTABLES],
                            int64_t since_ms, int timeout_ms, int *count, char *err, size_t n)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int t = 0; t < PP_NTABLES; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        int rejected = 0;
        rd_kafka_resp_err_t e = topic_metadata(rk, kc, rkt, &md, timeout_ms, &rejected, err, n);
        rd_kafka_topic_destroy(rkt);
        if (rejected) {
            rd_kafka_topic_partition_list_destroy(parts);
            return ASSIGN_REJECTED;
        }
        if (e || md->topic_cnt != 1 || md->topics[0].err) {
            pp_errf(err, n, "topic %s: %s", topics[t],
                    rd_kafka_err2str(e               ? e
                                     : md->topic_cnt ? md->topics[0].err
                                                     : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
            if (md)
                rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_destroy(parts);
            return ASSIGN_FAILED;
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
            return ASSIGN_FAILED;
        }
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset < 0)
                parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* nothing that recent */
    }
    int cnt = parts->cnt;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e)
        return pp_errf(err, n, "assign: %s", rd_kafka_err2str(e)), ASSIGN_FAILED;
    *count = cnt;
    return ASSIGNED;
}

static int table_of(const rd_kafka_message_t *m, char *const topics[PP_NTABLES])
{
    const char *name = rd_kafka_topic_name(m->rkt);
    for (int t = 0; t < PP_NTABLES; t++)
        if (!strcmp(name, topics[t]))
            return t;
    return -1;
}

/* One Kafka message: a post's by its headers and key, else "other". */
static int feed_message(feed *f, const rd_kafka_message_t *m, char *const topics[PP_NTABLES])
{
    rd_kafka_headers_t *h = NULL;
    char inst[256], seqbuf[32], keybuf[32];
    int64_t seq = 0, key = 0;
    int t = table_of(m, topics);
    rd_kafka_message_headers(m, &h);
    const char *in = header(h, PP_HEADER_INSTANCE, inst, sizeof(inst));
    const char *sq = header(h, PP_HEADER_SEQ, seqbuf, sizeof(seqbuf));
    int keyok = m->key && m->key_len < sizeof(keybuf);
    if (keyok) {
        memcpy(keybuf, m->key, m->key_len);
        keybuf[m->key_len] = '\0';
        keyok = pp_parse_int64(keybuf, &key) == 0;
    }
    if (t < 0 || !in || !sq || pp_parse_int64(sq, &seq) || seq < 1 || !keyok) {
        pp_tally_add_other(f->tally);
        return 0;
    }
    /* Another instance than those verified counts as other, its rows unchecked. */
    if (!pp_tally_add(f->tally, in, (uint64_t)seq, t, key, m->partition))
        return 0;
    return feed_rows(f, t, key, (uint64_t)seq, m->payload, m->len);
}

/* Read the three topics to their end into f. Returns 0, or the exit status with the
 * reason logged. */
static int read_kafka(const pp_config *c, const opts *o, char *const topics[PP_NTABLES], feed *f)
{
    char err[1024];
    int status = PP_EXIT_UNVERIFIED;
    /* No on_error: librdkafka's lines keep their level, the only report of connection
     * trouble besides the verdict. */
    pp_kafka_opts ko = {.role = PP_KAFKA_CONSUMER, .client_id = "pinpost-verify"};
    pp_kafka *kc = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &ko, &kc, err, sizeof(err));
    if (!conf ||
        (o->read_uncommitted && pp_kafka_conf_set(conf, "isolation.level", "read_uncommitted",
                                                  "--read-uncommitted", err, sizeof(err)))) {
        pp_log_err("%s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    rk = pp_kafka_handle_new(kc, conf, err, sizeof(err));
    conf = NULL; /* taken by pp_kafka_handle_new */
    if (!rk) {
        pp_log_err("%s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    int timeout_ms = (int)(o->timeout_s * 1000);
    int open_parts = 0;
    assign_rc arc =
        assign_all(rk, kc, topics, o->since_ms, timeout_ms, &open_parts, err, sizeof(err));
    if (arc != ASSIGNED) {
        pp_log_err("%s", err);
        if (arc == ASSIGN_REJECTED)
            status = PP_EXIT_CONFIG;
        goto out;
    }
    int64_t last_progress = pp_now_us();
    while (open_parts > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (auth_failed(rk, kc, err, sizeof(err))) {
                pp_log_err("%s", err);
                status = PP_EXIT_CONFIG;
                goto out;
            }
            if (pp_now_us() - last_progress > (int64_t)timeout_ms * 1000) {
                fprintf(stderr,
                        "pinpost-verify: no progress for %g s; %d partition(s) not "
                        "read to the end\n",
                        o->timeout_s, open_parts);
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
        int failed = feed_message(f, m, topics);
        rd_kafka_message_destroy(m);
        if (failed) {
            pp_log_err("%s", f->err);
            goto out;
        }
    }
    status = 0;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    pp_kafka_destroy(kc);
    return status;
}

/* One Kinesis record: a post's by its partition key, else "other"; its partition is its
 * shard number, which the post key alone chooses. */
static int on_record(void *opaque, const pp_kinesis_record *r)
{
    feed *f = opaque;
    int64_t key;
    uint64_t seq;
    if (!pp_tally_add_partition_key(f->tally, NULL, r->partition_key, r->partition_key_len,
                                    r->table, r->shard, &key, &seq))
        return 0;
    return feed_rows(f, r->table, key, seq, r->data, r->data_len);
}

/* Read the three streams into f. Returns 0, or the exit status with the reason logged:
 * 78 when the configuration cannot work (no region), 2 when not everything was read. */
static int read_kinesis(const pp_config *c, const opts *o, feed *f)
{
    char err[1024] = "";
    int rc = pp_kinesis_read(c, o->since_ms, o->timeout_s, on_record, f, err, sizeof(err));
    if (rc == PP_KINESIS_READ_OK)
        return 0;
    pp_log_err("%s", f->err[0] ? f->err : err);
    return rc == PP_KINESIS_READ_CONFIG ? PP_EXIT_CONFIG : PP_EXIT_UNVERIFIED;
}

/* The counters of r as fields of j. */
static void json_counts(cJSON *j, const pp_tally_result *r)
{
    cJSON_AddNumberToObject(j, "messages", (double)r->messages);
    cJSON_AddNumberToObject(j, "messages_other", (double)r->other);
    cJSON_AddNumberToObject(j, "posts_complete", (double)r->posts_complete);
    cJSON_AddNumberToObject(j, "posts_partial", (double)r->posts_partial);
    cJSON_AddNumberToObject(j, "posts_missing", (double)r->posts_missing);
    cJSON_AddNumberToObject(j, "posts_unexpected", (double)r->posts_unexpected);
    cJSON_AddNumberToObject(j, "duplicates", (double)r->duplicates);
    cJSON_AddNumberToObject(j, "key_mismatch", (double)r->key_mismatch);
    cJSON_AddNumberToObject(j, "partition_mismatch", (double)r->partition_mismatch);
    cJSON_AddNumberToObject(j, "max_seq", (double)r->max_seq);
}

/* What was found, for the printers. */
typedef struct verdict {
    const run *runs; /* the runs verified (none: every instance, o->expect each) */
    size_t nruns;
    const pp_tally_result *each; /* per run, for a fleet (nruns > 1) */
    pp_tally_result total;
    int bad;
    int rows;
    uint64_t rows_checked, rows_mismatched;
    size_t instances; /* seen */
} verdict;

static void print_json(const opts *o, const verdict *v)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "result", v->bad ? "problems" : "verified");
    if (v->nruns == 1)
        cJSON_AddStringToObject(j, "instance", v->runs[0].instance);
    cJSON_AddNumberToObject(j, "instances", (double)v->instances);
    json_counts(j, &v->total);
    if (v->nruns > 1) {
        uint64_t expected = 0;
        int failed = 0;
        cJSON *fleet = cJSON_AddArrayToObject(j, "fleet");
        for (size_t i = 0; i < v->nruns; i++) {
            int bad = pp_tally_problems(&v->each[i], v->runs[i].expected);
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "instance", v->runs[i].instance);
            cJSON_AddStringToObject(m, "result", bad ? "problems" : "verified");
            cJSON_AddStringToObject(m, "run_report", v->runs[i].report);
            cJSON_AddNumberToObject(m, "expected", (double)v->runs[i].expected);
            json_counts(m, &v->each[i]);
            cJSON_AddItemToArray(fleet, m);
            expected += v->runs[i].expected;
            failed += bad;
        }
        cJSON_AddNumberToObject(j, "posts_expected", (double)expected);
        cJSON_AddNumberToObject(j, "instances_failed", failed);
    }
    if (v->rows) {
        cJSON_AddNumberToObject(j, "rows_checked", (double)v->rows_checked);
        cJSON_AddNumberToObject(j, "rows_mismatched", (double)v->rows_mismatched);
        cJSON *live = cJSON_AddArrayToObject(j, "live_columns");
        for (size_t i = 0; i < o->nlive; i++) {
            char name[160];
            snprintf(name, sizeof(name), "%s.%s", pp_table_names[o->live[i].table],
                     o->live[i].column);
            cJSON_AddItemToArray(live, cJSON_CreateString(name));
        }
    }
    char *text = cJSON_PrintUnformatted(j);
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(j);
}

static void print_counts(const char *lead, const pp_tally_result *r)
{
    printf("%sposts complete: %" PRIu64 ", partial: %" PRIu64 ", missing: %" PRIu64
           ", duplicate messages: %" PRIu64 ", key mismatches: %" PRIu64
           ", partition mismatches: %" PRIu64 ", beyond the expected count: %" PRIu64 "\n",
           lead, r->posts_complete, r->posts_partial, r->posts_missing, r->duplicates,
           r->key_mismatch, r->partition_mismatch, r->posts_unexpected);
}

static void print_human(const opts *o, const pp_tally *t, const verdict *v)
{
    printf("messages read: %" PRIu64 " (+%" PRIu64 " from other producers or instances)\n",
           v->total.messages, v->total.other);
    print_counts("", &v->total);
    for (size_t i = 0; v->nruns > 1 && i < v->nruns; i++) {
        /* The instance name comes from a report: escaped like other outside text. */
        char shown[4 * 256 + 1], lead[1200];
        size_t len = strlen(v->runs[i].instance);
        pp_log_escape(v->runs[i].instance, len < 256 ? len : 256, shown, sizeof(shown));
        snprintf(lead, sizeof(lead), "  %s (%s): %s, expected %" PRIu64 ": ", shown,
                 v->runs[i].report,
                 pp_tally_problems(&v->each[i], v->runs[i].expected) ? "PROBLEMS" : "verified",
                 v->runs[i].expected);
        print_counts(lead, &v->each[i]);
    }
    if (v->rows) {
        printf("rows checked: %" PRIu64 ", not matching the database: %" PRIu64 "\n",
               v->rows_checked, v->rows_mismatched);
        for (size_t i = 0; i < o->nlive; i++)
            printf("%s%s.%s%s", i ? ", " : "live columns (checked for form only): ",
                   pp_table_names[o->live[i].table], o->live[i].column,
                   i + 1 == o->nlive ? "\n" : "");
    }
    if (v->bad) {
        if (v->nruns > 1) {
            for (size_t i = 0; i < v->nruns; i++)
                if (pp_tally_problems(&v->each[i], v->runs[i].expected))
                    pp_tally_print_problems(t, v->runs[i].instance, v->runs[i].expected, stdout,
                                            10);
        } else {
            pp_tally_print_problems(t, v->nruns ? v->runs[0].instance : NULL,
                                    v->nruns ? v->runs[0].expected : o->expect, stdout, 10);
        }
    }
    printf("%s\n", v->bad ? "RESULT: PROBLEMS FOUND" : "RESULT: VERIFIED");
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
    run *runs = NULL;
    size_t nruns = 0;
    pp_tally_result *each = NULL;
    int status = PP_EXIT_UNVERIFIED;
    feed f = {.tally = pp_tally_new()};

    if (parse_args(argc, argv, &o) != 0) {
        opts_free(&o);
        pp_tally_destroy(f.tally);
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
    /* Into the configuration, so that all that reads bootstrap.servers (the MSK IAM
     * region from the broker names too) sees the servers asked for. */
    if (o.bootstrap)
        pp_config_set_kafka(c, "bootstrap.servers", o.bootstrap, "--bootstrap");
    if (gather_runs(&o, &runs, &nruns, err, sizeof(err))) {
        pp_log_err("%s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    if (nruns) {
        /* Only the runs verified are recorded; other instances' messages count as other. */
        const char **names = pp_xcalloc(nruns, sizeof(*names));
        for (size_t i = 0; i < nruns; i++)
            names[i] = runs[i].instance;
        pp_tally_restrict(f.tally, names, nruns);
        free(names);
    }
    if (!o.kinesis && !pp_config_get_kafka(c, "bootstrap.servers")) {
        fprintf(stderr, "pinpost-verify: no Kafka bootstrap servers: give -c FILE or -b\n");
        status = PP_EXIT_CONFIG;
        goto out;
    }
    for (int t = 0; t < PP_NTABLES; t++)
        topics[t] = pp_config_topic(c, t);
    if (o.rows && !(f.rows = pp_rowcheck_db_open(c, err, sizeof(err)))) {
        pp_log_err("--rows: %s", err);
        goto out;
    }
    for (size_t i = 0; f.rows && i < o.nlive; i++)
        if (pp_rowcheck_db_live(f.rows, o.live[i].table, o.live[i].column, err, sizeof(err))) {
            pp_log_err("--rows: the live column %s (%s)", err, o.live[i].origin);
            status = PP_EXIT_CONFIG;
            goto out;
        }
    status = o.kinesis ? read_kinesis(c, &o, &f) : read_kafka(c, &o, topics, &f);
    if (status)
        goto out;
    status = PP_EXIT_UNVERIFIED;
    if (f.rows && pp_rowcheck_db_finish(f.rows, err, sizeof(err))) {
        pp_log_err("%s", err);
        goto out;
    }

    verdict v = {.runs = runs, .nruns = nruns, .rows = o.rows};
    v.rows_checked = f.rows ? pp_rowcheck_db_checked(f.rows) : 0;
    v.rows_mismatched = f.rows ? pp_rowcheck_db_mismatched(f.rows) : 0;
    v.instances = pp_tally_instances(f.tally);
    if (nruns > 1) {
        each = pp_xcalloc(nruns, sizeof(*each));
        pp_tally_member *fleet = pp_xcalloc(nruns, sizeof(*fleet));
        for (size_t i = 0; i < nruns; i++)
            fleet[i] = (pp_tally_member){runs[i].instance, runs[i].expected};
        pp_tally_summarise_fleet(f.tally, fleet, nruns, each, &v.total);
        free(fleet);
        v.each = each;
        for (size_t i = 0; i < nruns; i++)
            v.bad |= pp_tally_problems(&each[i], runs[i].expected);
    } else {
        uint64_t expected = nruns ? runs[0].expected : o.expect;
        pp_tally_summarise(f.tally, nruns ? runs[0].instance : NULL, expected, &v.total);
        v.bad = pp_tally_problems(&v.total, expected);
    }
    v.bad |= v.rows_mismatched > 0;
    if (o.json)
        print_json(&o, &v);
    else
        print_human(&o, f.tally, &v);
    status = v.bad ? PP_EXIT_PROBLEMS : 0;
    /* A verdict nobody could read is no verdict (stdout closed, a full disk). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        pp_log_err("cannot write the result to standard output%s",
                   pp_file_stdio_was_closed(1) ? " (it was closed at start)" : "");
        status = PP_EXIT_UNVERIFIED;
    }
out:
    pp_rowcheck_db_close(f.rows);
    for (int t = 0; t < PP_NTABLES; t++)
        free(topics[t]);
    for (size_t i = 0; i < nruns; i++)
        free(runs[i].instance);
    free(runs);
    free(each);
    opts_free(&o);
    pp_tally_destroy(f.tally);
    pp_config_destroy(c);
    return status;
}
