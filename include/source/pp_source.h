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

/* The rows of one post, as fetched. value[t] is valid when bit t of found is set. */
typedef struct pp_post {
    int64_t key;
    unsigned found;           /* bit (1 << table) per row that exists */
    pp_buf value[PP_NTABLES]; /* owned JSON objects, reused between batches */
    size_t invalid_utf8;      /* bytes replaced by U+FFFD in this post */
} pp_post;

/* Free the buffers a post owns (the post itself is the caller's). */
void pp_post_release(pp_post *p);

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

struct pp_source {
    const pp_source_ops *ops;
};

/* A MySQL source for the config's source section; connects lazily. c must outlive it. */
pp_source *pp_source_mysql_new(const pp_config *c);

/* Every wait on a MySQL server (connect, query, fetch) gives up within about 0.6 s once
 * *stop is set: libmariadb retries poll() on EINTR, so a signal alone does not end it.
 * Process-wide (libmariadb's wait hook has no context pointer); NULL turns it off. */
void pp_source_mysql_set_stop(volatile sig_atomic_t *stop);

/* The generated demo data set: keys 1..posts, rows from pp_gen with this seed. */
pp_source *pp_source_demo_new(uint64_t data_seed, uint64_t posts);

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
