/* source_demo: the generated data set of --demo, served from memory-free pure functions. */
#include "pp_gen.h"
#include "pp_source.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A live column (emulation.timestamps: now) as configured, and once connect found it in
 * the data set's schema, its name there and its fractional digits. */
typedef struct demo_live {
    enum pp_table table;
    char *column; /* as configured */
    char *name;   /* as the data set writes it; NULL until connect */
    int fsp;
    int repeated; /* an earlier entry names the same column: marked once */
} demo_live;

typedef struct demo_source {
    pp_source base;
    pp_gen_opts gen;
    demo_live live[PP_LIVE_COLUMNS_MAX];
    size_t nlive;
} demo_source;

/* Column `name` of the CREATE TABLE text: its name as the table spells it (into name_out)
 * and its type word ("DATETIME", "VARCHAR(64)", into type_out). Returns 0, or -1 when the
 * table has no such column. Column names compare case-insensitively, as MySQL's do. */
static int schema_column(const char *schema, const char *name, char *name_out, size_t name_n,
                         char *type_out, size_t type_n)
{
    for (const char *line = strchr(schema, '\n'); line; line = strchr(line, '\n')) {
        line++;
        line += strspn(line, " ");
        const char *start = line, *end;
        if (*line == '`') {
            start = line + 1;
            end = strchr(start, '`');
        } else {
            end = start + strcspn(start, " \n");
        }
        if (!end || *start == ')')
            continue;
        size_t len = (size_t)(end - start);
        if (strlen(name) != len || strncasecmp(start, name, len) != 0)
            continue;
        const char *type = end + (*end == '`');
        type += strspn(type, " ");
        size_t tlen = strcspn(type, " ,\n");
        snprintf(name_out, name_n, "%.*s", (int)len, start);
        snprintf(type_out, type_n, "%.*s", (int)tlen, type);
        return 0;
    }
    return -1;
}

/* The live columns must be in the data set and be DATETIME or TIMESTAMP, as the MySQL
 * source requires of its tables. */
static pp_src_status demo_connect(pp_source *s, char *e, size_t n)
{
    demo_source *d = (demo_source *)s;
    for (size_t i = 0; i < d->nlive; i++) {
        demo_live *l = &d->live[i];
        char name[128], type[64];
        if (l->name)
            continue;
        if (schema_column(pp_gen_schema(l->table), l->column, name, sizeof(name), type,
                          sizeof(type)))
            return pp_errf(e, n,
                           "emulation.timestamp_columns: %s.%s: the demo data's %s table has no "
                           "column '%s'; list DATETIME or TIMESTAMP columns as table.column "
                           "(table: pin, geo or user)",
                           pp_table_names[l->table], l->column, pp_table_names[l->table],
                           l->column),
                   PP_SRC_FATAL;
        int fsp = 0;
        if (strncasecmp(type, "DATETIME", 8) && strncasecmp(type, "TIMESTAMP", 9))
            return pp_errf(e, n,
                           "emulation.timestamp_columns: %s.%s: column '%s' of the demo data's "
                           "%s table is %s, not DATETIME or TIMESTAMP; live timestamps go only "
                           "into DATETIME or TIMESTAMP columns",
                           pp_table_names[l->table], l->column, name, pp_table_names[l->table],
                           type),
                   PP_SRC_FATAL;
        const char *paren = strchr(type, '(');
        if (paren)
            fsp = atoi(paren + 1);
        l->fsp = fsp < 0 ? 0 : fsp > 6 ? 6 : fsp;
        l->name = pp_xstrdup(name);
        for (size_t j = 0; j < i; j++)
            l->repeated |= d->live[j].table == l->table && !strcmp(d->live[j].name, name);
    }
    return PP_SRC_OK;
}

/* The bytes of member `name`'s value in the flat JSON object the data set writes (no
 * nested values, no spaces). Returns 0 with *off and *len set, or -1. */
static int find_member(const pp_buf *b, const char *name, size_t *off, size_t *len)
{
    const char *s = b->data, *end = b->data + b->len;
    size_t nlen = strlen(name);
    const char *p = s + 1; /* after '{' */
    while (p < end && *p == '"') {
        const char *k = ++p;
        while (p < end && *p != '"')
            p += *p == '\\' ? 2 : 1;
        size_t klen = (size_t)(p - k);
        p += 2; /* '"' ':' */
        const char *v = p;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"';)
                p += *p == '\\' ? 2 : 1;
            p++;
        } else {
            while (p < end && *p != ',' && *p != '}')
                p++;
        }
        if (klen == nlen && !memcmp(k, name, nlen)) {
            *off = (size_t)(v - s);
            *len = (size_t)(p - v);
            return 0;
        }
        p++; /* ',' */
    }
    return -1;
}

static pp_src_status demo_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    demo_source *d = (demo_source *)s;
    int64_t from = pp_keyspace_count(ks) ? pp_keyspace_max(ks) + 1 : 1;
    /* Connecting is implicit, as for MySQL: the live columns are checked on first use. */
    pp_src_status rc = demo_connect(s, e, n);
    if (rc != PP_SRC_OK)
        return rc;
    for (int64_t k = from; k <= (int64_t)d->gen.posts; k++)
        if (pp_gen_has(&d->gen, PP_PIN, k))
            pp_keyspace_add(ks, k);
    return PP_SRC_OK;
}

static pp_src_status demo_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts,
                                char *e, size_t n)
{
    demo_source *d = (demo_source *)s;
    pp_src_status rc = demo_connect(s, e, n);
    if (rc != PP_SRC_OK)
        return rc;
    for (size_t i = 0; i < nkeys; i++) {
        pp_post *p = &posts[i];
        p->key = keys[i];
        p->found = 0;
        p->invalid_utf8 = 0;
        p->nlive = 0;
        for (int t = 0; t < PP_NTABLES; t++) {
            pp_buf_reset(&p->value[t]);
            if (!pp_gen_has(&d->gen, t, keys[i]))
                continue;
            pp_gen_row_json(&d->gen, t, keys[i], &p->value[t]);
            p->found |= 1u << t;
            /* The generated value stays as the placeholder pp_post_stamp overwrites. */
            for (size_t k = 0; k < d->nlive; k++) {
                size_t off, len;
                if (d->live[k].table == (enum pp_table)t && d->live[k].name &&
                    !d->live[k].repeated && !find_member(&p->value[t], d->live[k].name, &off, &len))
                    pp_post_live_mark(p, t, d->live[k].fsp, off, len);
            }
        }
    }
    return PP_SRC_OK;
}

static void demo_describe(pp_source *s, char *out, size_t n)
{
    demo_source *d = (demo_source *)s;
    snprintf(out, n, "built-in demo data (%llu posts, data seed %llu)",
             (unsigned long long)d->gen.posts, (unsigned long long)d->gen.seed);
}

static void demo_destroy(pp_source *s)
{
    demo_source *d = (demo_source *)s;
    for (size_t i = 0; i < d->nlive; i++) {
        free(d->live[i].column);
        free(d->live[i].name);
    }
    free(d);
}

static const pp_source_ops demo_ops = {demo_connect, demo_load_keys, demo_fetch, demo_describe,
                                       demo_destroy};

pp_source *pp_source_demo_new(uint64_t data_seed, uint64_t posts)
{
    demo_source *d = pp_xcalloc(1, sizeof(*d));
    d->base.ops = &demo_ops;
    d->gen.seed = data_seed;
    d->gen.posts = posts;
    /* A few posts without their user row show how unmatched posts are handled. */
    d->gen.missing_frac[PP_USER] = 0.005;
    return &d->base;
}

pp_source *pp_source_demo_open(const pp_config *c, uint64_t data_seed, uint64_t posts)
{
    demo_source *d = (demo_source *)pp_source_demo_new(data_seed, posts);
    if (c->emulation.timestamps_now)
        for (size_t i = 0; i < c->emulation.nlive && i < PP_LIVE_COLUMNS_MAX; i++) {
            d->live[d->nlive].table = c->emulation.live[i].table;
            d->live[d->nlive++].column = pp_xstrdup(c->emulation.live[i].column);
        }
    return &d->base;
}
