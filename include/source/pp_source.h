/* pp_source: where posts come from. A source knows which post keys exist and fetches
 * the three rows of a batch of keys, already serialised to the JSON of the message
 * contract. Two implementations: MySQL/MariaDB (pp_source_mysql_new) and the built-in
 * generated data set of --demo (pp_source_demo_new); pp_source_open picks the one a run
 * asks for. All calls run on the main thread. */
#ifndef PP_SOURCE_H
#define PP_SOURCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pp_config.h"
#include "pp_buf.h"
#include "pp_keyspace.h"

/* A live column's value inside a post (emulation.timestamps: now): the byte range of its
 * JSON value in value[table], which pp_post_stamp overwrites with the emission time. */
typedef struct pp_post_live {
    enum pp_table table;
    int fsp;         /* fractional-second digits the column keeps, 0..6 */
    size_t off, len; /* the value's bytes in value[table], quotes included */
} pp_post_live;

/* The rows of one post, as fetched. value[t] is valid when bit t of found is set. */
typedef struct pp_post {
    int64_t key;
    unsigned found;           /* bit (1 << table) per row that exists */
    pp_buf value[PP_NTABLES]; /* owned JSON objects, reused between batches */
    size_t invalid_utf8;      /* bytes replaced by U+FFFD in this post */
    size_t nlive;             /* live columns in value[], whatever the rows held there */
    pp_post_live live[PP_LIVE_COLUMNS_MAX];
} pp_post;

/* Free the buffers a post owns (the post itself is the caller's). */
void pp_post_release(pp_post *p);

/* ---- live timestamps (emulation.timestamps: now; src/source/post_live.c) ----
 * A source writes each live column's value as it writes any other (or a placeholder) and
 * records its place with pp_post_live_mark; the sampler calls pp_post_stamp with the wall
 * clock (pp_wall_us) as it hands the post out, so the time written is the emission time,
 * not the fetch time, at the cost of one clock read and a 21- or 28-byte write per post.
 * The time is written in UTC: a DATETIME carries no zone, and event-time pipelines
 * (watermarks, windows) compare it with clocks that count UTC. */

/* Longest text pp_post_live_format writes: "YYYY-MM-DD HH:MM:SS.ffffff" and two quotes. */
#define PP_LIVE_TEXT_MAX 28

/* wall_us (microseconds since the epoch) as the message contract writes a DATETIME value
 * of a column with fsp fractional digits, in UTC, quotes included: the time truncated to
 * what the column holds (whole seconds for fsp 0), "YYYY-MM-DD HH:MM:SS" plus ".ffffff"
 * when the truncated fraction is not zero. Times outside 0001-01-01..9999-12-31 are
 * clamped to those bounds. out holds PP_LIVE_TEXT_MAX bytes (no NUL written); returns
 * the length, 21 or 28. */
size_t pp_post_live_format(char *out, int64_t wall_us, int fsp);

/* Record that value[t][off, off + len) is the value of a live column keeping fsp digits.
 * Returns 0, or -1 when the post has PP_LIVE_COLUMNS_MAX already (not recorded). */
int pp_post_live_mark(pp_post *p, enum pp_table t, int fsp, size_t off, size_t len);

/* Append a placeholder value (the epoch, formatted for fsp) for a live column to
 * value[t], where its value belongs, and mark it. */
void pp_post_live_put(pp_post *p, enum pp_table t, int fsp);

/* dst's value[t] was just copied byte for byte from src's: copy src's marks of table t. */
void pp_post_live_copy(pp_post *dst, const pp_post *src, enum pp_table t);

/* Write wall_us (pp_post_live_format) into every live column of p: the same instant in
 * all of them. Values of another length move the rest of their row (and its marks). */
void pp_post_stamp(pp_post *p, int64_t wall_us);

#define PP_POST_COMPLETE ((1u << PP_NTABLES) - 1)

/* Result of a source call: PP_SRC_RETRY is transient (lost connection: the caller backs
 * off and calls again, the source reconnects); PP_SRC_FATAL needs an operator (bad table
 * or column names, access denied): the errstr says which. */
typedef enum pp_src_status { PP_SRC_OK = 0, PP_SRC_RETRY = -1, PP_SRC_FATAL = -2 } pp_src_status;

typedef struct pp_source pp_source;

typedef struct pp_source_ops {
    /* Open the connection if needed and check the tables. */
    pp_src_status (*connect)(pp_source *s, char *errstr, size_t errstr_size);
    /* Append every key greater than the keyspace's current max (all keys when empty). */
    pp_src_status (*load_keys)(pp_source *s, pp_keyspace *ks, char *errstr, size_t errstr_size);
    /* Fill posts[i] for keys[i], i < n; duplicate keys are allowed. */
    pp_src_status (*fetch)(pp_source *s, const int64_t *keys, size_t n, pp_post *posts,
                           char *errstr, size_t errstr_size);
    /* One line saying where the data comes from, without secrets. */
    void (*describe)(pp_source *s, char *out, size_t out_size);
    void (*destroy)(pp_source *s);
} pp_source_ops;

/* Progress of a long step of a source (reading the post keys of a big table): done so
 * far of about expected (0: not known). Called every few tens of thousands of keys, from
 * the thread calling the source; it may send STATUS and extend the start timeout. */
typedef struct pp_progress {
    void (*fn)(void *opaque, const char *what, uint64_t done, uint64_t expected);
    void *opaque;
} pp_progress;

struct pp_source {
    const pp_source_ops *ops;
    pp_progress progress; /* zero: nobody listens */
};

/* Who hears of s's progress (the daemon: STATUS, start timeout); fn NULL: nobody. */
static inline void pp_source_set_progress(pp_source *s,
                                          void (*fn)(void *opaque, const char *what, uint64_t done,
                                                     uint64_t expected),
                                          void *opaque)
{
    s->progress = (pp_progress){fn, opaque};
}

/* Report to whoever listens on s (pp_source_set_progress). */
static inline void pp_source_progress(pp_source *s, const char *what, uint64_t done,
                                      uint64_t expected)
{
    if (s->progress.fn)
        s->progress.fn(s->progress.opaque, what, done, expected);
}

/* A MySQL source for the config's source section; connects lazily. c must outlive it. */
pp_source *pp_source_mysql_new(const pp_config *c);

/* Every wait on a MySQL server (connect, query, fetch) gives up within about 0.6 s once
 * *stop is set: libmariadb retries poll() on EINTR, so a signal alone does not end it.
 * Process-wide (libmariadb's wait hook has no context pointer); NULL turns it off. */
void pp_source_mysql_set_stop(volatile sig_atomic_t *stop);

/* The generated demo data set: keys 1..posts, rows from pp_gen with this seed. */
pp_source *pp_source_demo_new(uint64_t data_seed, uint64_t posts);

/* The same with c's live timestamps (emulation.timestamps, emulation.timestamp_columns,
 * copied: c may go): its connect refuses a live column the data set lacks, or one that is
 * not DATETIME/TIMESTAMP there, as the MySQL source does. */
pp_source *pp_source_demo_open(const pp_config *c, uint64_t data_seed, uint64_t posts);

/* The source of a run: --demo's built-in data set, else MySQL for c's source section
 * (connected lazily; c must outlive it). Never NULL; free with pp_source_destroy. */
pp_source *pp_source_open(const pp_config *c, int demo);

static inline pp_src_status pp_source_connect(pp_source *s, char *e, size_t n)
{
    return s->ops->connect(s, e, n);
}
static inline pp_src_status pp_source_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    return s->ops->load_keys(s, ks, e, n);
}
static inline pp_src_status pp_source_fetch(pp_source *s, const int64_t *keys, size_t nkeys,
                                            pp_post *posts, char *e, size_t n)
{
    return s->ops->fetch(s, keys, nkeys, posts, e, n);
}
static inline void pp_source_describe(pp_source *s, char *out, size_t n)
{
    s->ops->describe(s, out, n);
}
static inline void pp_source_destroy(pp_source *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
