/* config: defaults, the YAML file, seed-format credentials and client.properties. */
#include "pp_config.h"
#include "pp_kprops.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_buf.h"
#include "pp_properties.h"
#include "pp_rng.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <yaml.h>

const char *const pp_tls_mode_names[] = {"disabled", "preferred", "required", "verify_ca",
                                         "verify_identity"};

static const char *const default_tables[PP_NTABLES][2] = {
    {"pinterest_data", "index"},
    {"geolocation_data", "ind"},
    {"user_data", "ind"},
};

pp_config *pp_config_new_defaults(void)
{
    pp_config *c = pp_xcalloc(1, sizeof(*c));
    char host[HOST_NAME_MAX + 1] = "pinpostd";

    c->source.host = pp_xstrdup("localhost");
    c->source.port = 3306;
    c->source.connect_timeout_s = 10;
    c->source.batch = 256;
    c->source.keyspace_refresh_s = 10;
    for (int t = 0; t < PP_NTABLES; t++) {
        c->source.tables[t].table = pp_xstrdup(default_tables[t][0]);
        c->source.tables[t].key = pp_xstrdup(default_tables[t][1]);
    }
    c->kafka.enabled = 1;
    c->kafka.topic_prefix = pp_xstrdup("pinpostd");
    c->kinesis.linger_s = 0.05;
    c->kinesis.record_timeout_s = 300;
    c->kinesis.max_requests = 8;
    c->service.drain_timeout_s = 30;
    c->kafka.transaction_interval_s = 0.1;
    c->kafka.partitions = -1;
    c->kafka.replication_factor = -1;
    c->emulation.delay_min_s = 0;
    c->emulation.delay_max_s = 2;
    c->emulation.shape = PP_SHAPE_DELAY;
    c->emulation.load.diurnal.day_length_s = 86400;
    c->emulation.live[0].table = PP_GEO;
    c->emulation.live[0].column = pp_xstrdup("timestamp");
    c->emulation.nlive = 1;
    c->emulation.max_backlog_s = 10;
    c->service.shards = 1;
    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        strcpy(host, "pinpostd");
    host[HOST_NAME_MAX] = '\0';
    c->service.instance = pp_xstrdup(host);
    c->service.summary_interval_s = 10;
    return c;
}

void pp_config_destroy(pp_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->source.host);
    free(c->source.socket);
    free(c->source.user);
    pp_secret_free(c->source.password);
    free(c->source.database);
    free(c->source.tls_ca);
    for (int t = 0; t < PP_NTABLES; t++) {
        free(c->source.tables[t].table);
        free(c->source.tables[t].key);
        free(c->kafka.topics[t]);
    }
    free(c->kafka.topic_prefix);
    for (int t = 0; t < PP_NTABLES; t++)
        free(c->kinesis.streams[t]);
    free(c->kinesis.region);
    free(c->kinesis.endpoint);
    free(c->kinesis.profile);
    free(c->kafka.transactional_id);
    free(c->kafka.aws_region);
    free(c->msk.role_arn);
    free(c->msk.role_session_name);
    free(c->msk.external_id);
    free(c->msk.sts_region);
    free(c->msk.profile);
    pp_kv_free(c->kafka.settings, c->kafka.nsettings);
    for (size_t i = 0; i < c->emulation.nlive; i++)
        free(c->emulation.live[i].column);
    free(c->service.instance);
    free(c->service.report);
    free(c->service.metrics_file);
    free(c->service.metrics_listen);
    free(c);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = pp_xstrdup(v);
}

void pp_config_set_kafka(pp_config *c, const char *key, const char *value, const char *origin)
{
    pp_kv_set(&c->kafka.settings, &c->kafka.nsettings, key, value, origin);
}

const char *pp_config_get_kafka(const pp_config *c, const char *key)
{
    const pp_kv *kv = pp_kv_find(c->kafka.settings, c->kafka.nsettings, key);
    return kv ? kv->value : NULL;
}

int pp_config_is_secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl.jaas") ||
           strstr(key, "oauthbearer.config") || strstr(key, "ssl.key.pem") || strstr(key, "token");
}

/* ---- YAML ---- */

/* Where we are while loading: the file, its directory, and the error buffer. */
typedef struct load_ctx {
    pp_config *c;
    const char *file;
    char *dir;
    yaml_document_t *doc;
    char *errstr;
    size_t errstr_size;
    int from_env; /* file names an environment variable: no line numbers */
} load_ctx;

/* Where a node came from, for errors and the origin of Kafka settings: file:line, or the
 * environment variable's name. */
static void origin_of(const load_ctx *x, const yaml_node_t *node, char *buf, size_t n)
{
    if (x->from_env)
        snprintf(buf, n, "%s", x->file);
    else
        snprintf(buf, n, "%s:%lu", x->file, node ? (unsigned long)node->start_mark.line + 1 : 0ul);
}

static int fail(load_ctx *x, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(load_ctx *x, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[768], where[PATH_MAX + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    origin_of(x, node, where, sizeof(where));
    pp_errf(x->errstr, x->errstr_size, "%s: %s", where, msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* YAML's "\0" escape puts a NUL inside a scalar, where C would silently cut it short. */
static int has_nul(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           strlen((const char *)n->data.scalar.value) != n->data.scalar.length;
}

/* A scalar value or an error naming the key. */
static int want_scalar(load_ctx *x, const yaml_node_t *n, const char *key, const char **out)
{
    *out = scalar(n);
    if (!*out)
        return fail(x, n, "%s: expected a single value, not a list or mapping", key);
    if (has_nul(n))
        return fail(x, n, "%s: the value holds a NUL character (\\0); remove it", key);
    return 0;
}

/* A mapping key: a plain name, or an error. */
static int want_key(load_ctx *x, const yaml_node_t *kn, const char *where, const char **out)
{
    *out = scalar(kn);
    if (!*out || has_nul(kn))
        return fail(x, kn, "%s%skeys must be plain names", where, *where ? ": " : "");
    return 0;
}

/* YAML forbids two equal keys in one mapping; libyaml keeps both and a loader that takes
 * either one hides a mistake. Called for each key p before it is applied, so that a file of
 * unknown keys fails at its first one instead of costing n^2 comparisons. Returns 0, or -1
 * naming both lines. */
static int check_duplicate(load_ctx *x, const yaml_node_t *map, const yaml_node_pair_t *p,
                           const char *prefix)
{
    const yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
    if (kn->type != YAML_SCALAR_NODE)
        return 0;
    for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        const yaml_node_t *qn = yaml_document_get_node(x->doc, q->key);
        if (qn->type == YAML_SCALAR_NODE && qn->data.scalar.length == kn->data.scalar.length &&
            !memcmp(qn->data.scalar.value, kn->data.scalar.value, kn->data.scalar.length))
            return fail(x, kn, "duplicate key '%s%s%s' (first at line %lu): keep one of them",
                        prefix, *prefix ? "." : "", scalar(kn),
                        (unsigned long)qn->start_mark.line + 1);
    }
    return 0;
}

static int get_bool(load_ctx *x, const yaml_node_t *n, const char *key, int *out)
{
    const char *s;
    if (want_scalar(x, n, key, &s))
        return -1;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
             !strcmp(s, "0"))
        *out = 0;
    else
        return fail(x, n, "%s: '%s' is not a boolean (true/false)", key, s);
    return 0;
}

static int get_str(load_ctx *x, const yaml_node_t *n, const char *key, char **dst)
{
    const char *s;
    if (want_scalar(x, n, key, &s))
        return -1;
    if (!*s)
        return fail(x, n, "%s: must not be empty", key);
    set_str(dst, s);
    return 0;
}

/* Expand ${NAME} and ${NAME:-default} in a path, so that files handed over by systemd
 * (LoadCredential= sets $CREDENTIALS_DIRECTORY) can be named. Returns NULL after
 * filling err when a variable is unset and has no default. Caller frees. */
static char *expand_env(const char *s, char *err, size_t n)
{
    pp_buf out = {0};
    pp_buf_append(&out, "", 0);
    while (*s) {
        const char *open = strstr(s, "${");
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            pp_buf_puts(&out, s);
            break;
        }
        pp_buf_append(&out, s, (size_t)(open - s));
        char name[128] = "";
        const char *dflt = NULL;
        size_t dlen = 0, len = (size_t)(close - open - 2);
        const char *sep = memchr(open + 2, ':', len);
        size_t nlen = sep ? (size_t)(sep - open - 2) : len;
        if (sep && sep[1] == '-') {
            dflt = sep + 2;
            dlen = (size_t)(close - dflt);
        }
        snprintf(name, sizeof(name), "%.*s", (int)(nlen < sizeof(name) ? nlen : sizeof(name) - 1),
                 open + 2);
        const char *v = getenv(name);
        if (v && *v)
            pp_buf_puts(&out, v);
        else if (dflt)
            pp_buf_append(&out, dflt, dlen);
        else {
            pp_errf(err, n, "${%s} is not set%s; write ${%s:-VALUE} for a fallback", name,
                    strcmp(name, "CREDENTIALS_DIRECTORY") == 0
                        ? " (systemd's LoadCredential= sets it)"
                    : strcmp(name, "JOB_COMPLETION_INDEX") == 0
                        ? " (a Kubernetes Indexed Job sets it, a Deployment does not)"
                        : "",
                    name);
            pp_buf_free(&out);
            return NULL;
        }
        s = close + 1;
    }
    return out.data;
}

static int get_path(load_ctx *x, const yaml_node_t *n, const char *key, char **dst)
{
    const char *s;
    char err[256];
    if (want_scalar(x, n, key, &s))
        return -1;
    if (!*s)
        return fail(x, n, "%s: must not be empty", key);
    char *expanded = expand_env(s, err, sizeof(err));
    if (!expanded)
        return fail(x, n, "%s: %s", key, err);
    free(*dst);
    *dst = pp_path_join(x->dir, expanded);
    free(expanded);
    return 0;
}

/* Whether a POSIX access ACL (the system.posix_acl_access attribute: a 32-bit version,
 * then entries of a 16-bit tag, 16-bit permissions and a 32-bit id, little-endian) grants
 * perm (4 read, 1 search) to a named user other than root and self, or to a named group
 * other than root's, within its mask. systemd's credentials carry an ACL entry for the
 * service's own user: that one is not "others". */
static int acl_grants_others(const char *path, unsigned perm, uid_t self)
{
    unsigned char a[4 + 8 * 64];
    ssize_t n = getxattr(path, "system.posix_acl_access", a, sizeof(a));
    if (n < 0)
        return errno == ERANGE; /* more entries than we read: assume the worst */
    unsigned mask = 7, named = 0;
    for (ssize_t i = 4; i + 8 <= n; i += 8) {
        unsigned tag = a[i] | (unsigned)a[i + 1] << 8, bits = a[i + 2] | (unsigned)a[i + 3] << 8;
        uint32_t id = a[i + 4] | (uint32_t)a[i + 5] << 8 | (uint32_t)a[i + 6] << 16 |
                      (uint32_t)a[i + 7] << 24;
        if (tag == 0x10) /* ACL_MASK */
            mask = bits;
        else if ((tag == 0x02 && id != 0 && id != (uint32_t)self) || /* ACL_USER */
                 (tag == 0x08 && id != 0))                           /* ACL_GROUP */
            named |= bits;
    }
    return (named & mask & perm) != 0;
}

/* Whether anyone but root and this process's user can read the file: its group (unless
 * root's, or ours on a file root owns) or others by its mode, or a named user or group of
 * its ACL, and every directory above it lets them through (search permission: the file's
 * group as the directory's group when it is the same, as others otherwise; a directory's
 * ACL may let named users in). A
 * directory owned by another user counts as open: its owner can open it. So systemd's
 * credentials (LoadCredential=: mode 0440, group root, an ACL for the service's user, in a
 * directory closed to others) are not exposed, while a 0644 file under /etc is.
 * Unresolvable paths count as exposed. */
static int readable_by_others(const char *path, const struct stat *st)
{
    uid_t self = geteuid();
    /* A group other than root's counts as others, except the one root gave this process's
     * group on purpose: a file root owns with our effective group (Kubernetes' Secret
     * volumes with fsGroup: root, group fsGroup, mode 0440; /etc/ssl/private's way). */
    int grp =
        (st->st_mode & S_IRGRP) && st->st_gid != 0 && !(st->st_uid == 0 && st->st_gid == getegid());
    int oth = (st->st_mode & S_IROTH) || acl_grants_others(path, 4, self);
    char *real = (grp || oth) ? realpath(path, NULL) : NULL;
    if (!real)
        return grp || oth;
    /* Each directory above the file, from its parent up to "/". */
    for (;;) {
        char *slash = strrchr(real, '/');
        struct stat dir;
        if (!slash)
            break;
        slash[slash == real] = '\0'; /* "/etc/x" -> "/etc"; "/etc" -> "/" */
        if (stat(real, &dir) != 0)
            break;
        int foreign = dir.st_uid != 0 && dir.st_uid != self && dir.st_uid != st->st_uid;
        int named = acl_grants_others(real, 1, self);
        if (!foreign && !named && !(dir.st_mode & (dir.st_gid == st->st_gid ? S_IXGRP : S_IXOTH)))
            grp = 0;
        if (!foreign && !named && !(dir.st_mode & S_IXOTH))
            oth = 0;
        if (slash == real || !(grp || oth))
            break;
    }
    free(real);
    return grp || oth;
}

/* Refuse what cannot be a configuration file; for files holding secrets, refuse
 * group/world-writable ones (anyone could substitute credentials) and warn about ones
 * that group or others can read (readable_by_others). Returns 0, or -1 with err set. */
static int check_file(const char *path, int secret, size_t max, char *err, size_t n)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pp_errf(err, n, "cannot open %s: %s", path, strerror(errno)), -1;
    if (!S_ISREG(st.st_mode))
        return pp_errf(err, n, "%s is not a regular file", path), -1;
    if ((size_t)st.st_size > max)
        return pp_errf(err, n, "%s is %lld bytes, more than a configuration file can be (%zu)",
                       path, (long long)st.st_size, max),
               -1;
    if (secret && (st.st_mode & (S_IWGRP | S_IWOTH)))
        return pp_errf(err, n,
                       "%s holds secrets but is writable by group or others (mode %04o); "
                       "chmod 600 it",
                       path, (unsigned)(st.st_mode & 07777)),
               -1;
    if (secret && readable_by_others(path, &st))
        pp_log_warn("%s holds secrets but is readable by group or others (mode %04o); "
                    "chmod 600 it, or hand it over with systemd's LoadCredential=",
                    path, (unsigned)(st.st_mode & 07777));
    return 0;
}

#define CONFIG_MAX_BYTES (1u << 20)

/* Read a whole small file (a secret) and strip one trailing newline. */
static char *read_secret_file(const char *path, char *err, size_t errn)
{
    if (check_file(path, 1, CONFIG_MAX_BYTES, err, errn))
        return NULL;
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t n;
    if (!f) {
        pp_errf(err, errn, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    int big = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    if (big) {
        pp_errf(err, errn, "%s is larger than %zu bytes; it should hold only the password", path,
                sizeof(buf) - 1);
        return NULL;
    }
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    char *s = pp_xstrdup(buf);
    pp_wipe(buf, sizeof(buf));
    return s;
}

/* The one document of a YAML file (an empty file gives a document without a root node).
 * A second document would be ignored silently, so it is an error. Returns 0, or -1 with
 * errstr set and nothing left to delete. */
static int load_document(yaml_parser_t *parser, yaml_document_t *doc, const char *path,
                         char *errstr, size_t errstr_size)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, doc))
        goto syntax;
    if (!yaml_document_get_root_node(doc))
        return 0; /* the end of the stream */
    if (!yaml_parser_load(parser, &next)) {
        yaml_document_delete(doc);
        goto syntax;
    }
    yaml_node_t *second = yaml_document_get_root_node(&next);
    unsigned long line = second ? (unsigned long)next.start_mark.line + 1 : 0;
    yaml_document_delete(&next);
    if (!second)
        return 0;
    yaml_document_delete(doc);
    pp_errf(errstr, errstr_size,
            "%s:%lu: a second YAML document starts here; pinpostd reads one document per "
            "file: remove it, or merge it into the first",
            path, line);
    return -1;
syntax:
    pp_errf(errstr, errstr_size, "%s:%lu: YAML syntax error: %s%s%s", path,
            (unsigned long)parser->problem_mark.line + 1,
            parser->problem ? parser->problem : "unknown", parser->context ? " " : "",
            parser->context ? parser->context : "");
    return -1;
}

/* Seed-format credentials: a YAML mapping of RDS_HOST, RDS_PORT, RDS_USER, RDS_PASSWORD,
 * RDS_DATABASE (all required), exactly as users already have it. */
static int load_credentials(load_ctx *outer, const yaml_node_t *at, const char *path)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1, have = 0;
    char ferr[640];

    if (check_file(path, 1, CONFIG_MAX_BYTES, ferr, sizeof(ferr)))
        return fail(outer, at, "source.credentials: %s", ferr);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(outer, at, "source.credentials: cannot open %s: %s", path, strerror(errno));
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    load_ctx x = {.c = outer->c,
                  .file = path,
                  .dir = NULL,
                  .doc = &doc,
                  .errstr = outer->errstr,
                  .errstr_size = outer->errstr_size};
    if (load_document(&parser, &doc, path, outer->errstr, outer->errstr_size)) {
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        fail(&x, root,
             "expected a mapping of RDS_HOST, RDS_PORT, RDS_USER, RDS_PASSWORD, "
             "RDS_DATABASE");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const char *k, *s;
        pp_config *c = outer->c;
        pp_number port;
        char why[256];
        if (want_key(&x, kn, "", &k) || check_duplicate(&x, root, p, ""))
            goto out;
        if (!strcmp(k, "RDS_HOST")) {
            if (get_str(&x, vn, k, &c->source.host))
                goto out;
            have |= 1;
        } else if (!strcmp(k, "RDS_PORT")) {
            if (want_scalar(&x, vn, k, &s))
                goto out;
            /* The same limits as source.port. */
            if (pp_config_parse_number("source.port", s, &port, why, sizeof(why))) {
                fail(&x, vn, "%s: %s", k, why);
                goto out;
            }
            c->source.port = (int)port.i;
            have |= 2;
        } else if (!strcmp(k, "RDS_USER")) {
            if (get_str(&x, vn, k, &c->source.user))
                goto out;
            have |= 4;
        } else if (!strcmp(k, "RDS_PASSWORD")) {
            if (want_scalar(&x, vn, k, &s))
                goto out;
            pp_secret_free(c->source.password);
            c->source.password = pp_xstrdup(s);
            have |= 8;
        } else if (!strcmp(k, "RDS_DATABASE")) {
            if (get_str(&x, vn, k, &c->source.database))
                goto out;
            have |= 16;
        } else {
            fail(&x, kn,
                 "unknown key '%s' (expected RDS_HOST, RDS_PORT, RDS_USER, "
                 "RDS_PASSWORD, RDS_DATABASE)",
                 k);
            goto out;
        }
    }
    static const char *const names[] = {"RDS_HOST", "RDS_PORT", "RDS_USER", "RDS_PASSWORD",
                                        "RDS_DATABASE"};
    for (int i = 0; i < 5; i++)
        if (!(have & (1 << i))) {
            fail(&x, root, "missing %s", names[i]);
            goto out;
        }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* client.properties entries, collected in file order before translation. */
typedef struct props_ctx {
    const char *path;
    pp_kv *entries;
    size_t n;
} props_ctx;

static int on_property(void *opaque, const char *key, const char *value, int line, char *err,
                       size_t errn)
{
    props_ctx *pc = opaque;
    char origin[PATH_MAX + 32];
    (void)err;
    (void)errn;
    snprintf(origin, sizeof(origin), "%s:%d", pc->path, line);
    pp_kv_append(&pc->entries, &pc->n, key, value, origin);
    return 0;
}

/* Merge what client.properties translated to: its librdkafka settings over those set
 * before (later entries win, as in the file), and its MSK IAM options. */
static void merge_kprops(pp_config *c, const pp_kprops *k)
{
    for (size_t i = 0; i < k->nsettings; i++)
        pp_config_set_kafka(c, k->settings[i].key, k->settings[i].value, k->settings[i].origin);
    if (k->msk.enabled)
        c->msk.enabled = 1;
    char **const to[] = {&c->msk.role_arn, &c->msk.role_session_name, &c->msk.external_id,
                         &c->msk.sts_region, &c->msk.profile};
    char *const from[] = {k->msk.role_arn, k->msk.role_session_name, k->msk.external_id,
                          k->msk.sts_region, k->msk.profile};
    for (size_t i = 0; i < sizeof(to) / sizeof(to[0]); i++)
        if (from[i])
            set_str(to[i], from[i]);
}

/* The keys the YAML file knows. A key path that is a prefix of others is a section. */
enum kind {
    K_STR,
    K_PATH,
    K_INT,
    K_DOUBLE,
    K_BOOL,
    K_CREDS,
    K_PASSWORD_FILE,
    K_PROPS,
    K_BOOTSTRAP,
    K_SETTINGS,
    K_DELAY,
    K_RATE,
    K_SEED,
    K_U64,
    K_REPORT,
    K_PASSWORD_INLINE,
    K_DELIVERY,
    K_TLS_MODE,
    K_STAGES,
    K_ARRIVALS,
    K_DURATION, /* a duration with a unit (pp_load_parse_duration), 0 allowed where lo is 0 */
    K_TOD,
    K_ZONE,
    K_POPULARITY,
    K_TIMESTAMPS,
    K_LIVE_COLUMNS,
    K_WARMUP,
    K_LISTEN,
    K_INSTANCE,
    K_NAME /* a string without control characters */
};

/* Numeric keys carry their limits here, the one place they live: the command line's
 * --count, --duration, --rate, --delay and --seed are parsed against the same rows
 * (pp_config_parse_number). A limit keeps the arithmetic done with the value safe: a rate
 * of at least 0.001 posts/s and a duration of at most 1e12 s keep every schedule in
 * microseconds far inside int64. */
typedef struct key_def {
    const char *path;
    enum kind kind;
    size_t offset;
    double lo, hi;    /* numeric keys: the accepted range */
    const char *also; /* numeric keys: a value outside the range that means something */
    const char *unit; /* set for every numeric key (it marks them): for error messages */
} key_def;

#define OFF(field) offsetof(pp_config, field)
#define KEY(path, kind, offset)                                                                    \
    {                                                                                              \
        path, kind, offset, 0, 0, NULL, NULL                                                       \
    }
#define NUM(path, kind, offset, lo, hi, also, unit)                                                \
    {                                                                                              \
        path, kind, offset, lo, hi, also, unit                                                     \
    }
static const key_def keys[] = {
    KEY("source.credentials", K_CREDS, 0),
    KEY("source.host", K_NAME, OFF(source.host)),
    NUM("source.port", K_INT, OFF(source.port), 1, 65535, NULL, ""),
    KEY("source.socket", K_PATH, OFF(source.socket)),
    KEY("source.user", K_NAME, OFF(source.user)),
    KEY("source.password", K_PASSWORD_INLINE, 0),
    KEY("source.password_file", K_PASSWORD_FILE, 0),
    KEY("source.database", K_NAME, OFF(source.database)),
    KEY("source.tls", K_TLS_MODE, 0),
    KEY("source.tls_ca", K_PATH, OFF(source.tls_ca)),
    NUM("source.connect_timeout", K_INT, OFF(source.connect_timeout_s), 1, 3600, NULL, " seconds"),
    NUM("source.batch", K_INT, OFF(source.batch), 1, 1000, NULL, " keys"),
    NUM("source.keyspace_refresh", K_DOUBLE, OFF(source.keyspace_refresh_s), 0.1, 86400, NULL,
        " seconds"),
    KEY("source.tables.pin.table", K_STR, OFF(source.tables[PP_PIN].table)),
    KEY("source.tables.pin.key", K_STR, OFF(source.tables[PP_PIN].key)),
    KEY("source.tables.geo.table", K_STR, OFF(source.tables[PP_GEO].table)),
    KEY("source.tables.geo.key", K_STR, OFF(source.tables[PP_GEO].key)),
    KEY("source.tables.user.table", K_STR, OFF(source.tables[PP_USER].table)),
    KEY("source.tables.user.key", K_STR, OFF(source.tables[PP_USER].key)),
    KEY("kafka.enabled", K_BOOL, OFF(kafka.enabled)),
    KEY("kafka.properties", K_PROPS, 0),
    KEY("kafka.bootstrap_servers", K_BOOTSTRAP, 0),
    KEY("kafka.topic_prefix", K_STR, OFF(kafka.topic_prefix)),
    KEY("kafka.topics.pin", K_STR, OFF(kafka.topics[PP_PIN])),
    KEY("kafka.topics.geo", K_STR, OFF(kafka.topics[PP_GEO])),
    KEY("kafka.topics.user", K_STR, OFF(kafka.topics[PP_USER])),
    /* The older name of service.drain_timeout, from when Kafka was the only sink. */
    NUM("kafka.flush_timeout", K_DOUBLE, OFF(service.drain_timeout_s), 0, 86400, NULL, " seconds"),
    KEY("kafka.delivery", K_DELIVERY, 0),
    KEY("kafka.aws_region", K_STR, OFF(kafka.aws_region)),
    KEY("kafka.transactional_id", K_STR, OFF(kafka.transactional_id)),
    NUM("kafka.transaction_interval", K_DOUBLE, OFF(kafka.transaction_interval_s), 0.001, 60, NULL,
        " seconds"),
    KEY("kafka.create_topics", K_BOOL, OFF(kafka.create_topics)),
    NUM("kafka.partitions", K_INT, OFF(kafka.partitions), 1, 100000, "-1 (the broker's default)",
        ""),
    NUM("kafka.replication_factor", K_INT, OFF(kafka.replication_factor), 1, 1000,
        "-1 (the broker's default)", ""),
    KEY("kafka.settings", K_SETTINGS, 0),
    KEY("kinesis.enabled", K_BOOL, OFF(kinesis.enabled)),
    KEY("kinesis.streams.pin", K_STR, OFF(kinesis.streams[PP_PIN])),
    KEY("kinesis.streams.geo", K_STR, OFF(kinesis.streams[PP_GEO])),
    KEY("kinesis.streams.user", K_STR, OFF(kinesis.streams[PP_USER])),
    KEY("kinesis.region", K_STR, OFF(kinesis.region)),
    KEY("kinesis.endpoint", K_STR, OFF(kinesis.endpoint)),
    KEY("kinesis.aws_profile", K_STR, OFF(kinesis.profile)),
    NUM("kinesis.linger", K_DOUBLE, OFF(kinesis.linger_s), 0, 10, NULL, " seconds"),
    NUM("kinesis.record_timeout", K_DOUBLE, OFF(kinesis.record_timeout_s), 1, 86400, NULL,
        " seconds"),
    NUM("kinesis.max_requests", K_INT, OFF(kinesis.max_requests), 1, 64, NULL, ""),
    NUM("emulation.delay", K_DELAY, 0, 0, 86400, NULL, " seconds"),
    NUM("emulation.rate", K_RATE, 0, 0.001, 1e9, "0 (as fast as possible)", " posts/s"),
    NUM("emulation.seed", K_SEED, 0, 0, 0, NULL, ""),
    NUM("emulation.count", K_U64, OFF(emulation.count), 0, 1e18, NULL, " posts"),
    NUM("emulation.duration", K_DOUBLE, OFF(emulation.duration_s), 0.001, 1e12, "0 (no limit)",
        " seconds"),
    KEY("emulation.stages", K_STAGES, 0),
    KEY("emulation.repeat", K_BOOL, OFF(emulation.load.repeat)),
    KEY("emulation.arrivals", K_ARRIVALS, 0),
    NUM("emulation.diurnal.peak", K_DOUBLE, OFF(emulation.load.diurnal.peak), 0.001, 1e9, NULL,
        " posts/s"),
    NUM("emulation.diurnal.trough", K_DOUBLE, OFF(emulation.load.diurnal.trough), 0, 1e9, NULL,
        " posts/s"),
    KEY("emulation.diurnal.peak_at", K_TOD, 0),
    KEY("emulation.diurnal.tz", K_ZONE, 0),
    {"emulation.diurnal.day_length", K_DURATION, OFF(emulation.load.diurnal.day_length_s), 1, 1e9,
     NULL, NULL},
    KEY("emulation.popularity", K_POPULARITY, 0),
    KEY("emulation.timestamps", K_TIMESTAMPS, 0),
    KEY("emulation.timestamp_columns", K_LIVE_COLUMNS, 0),
    KEY("emulation.warmup", K_WARMUP, 0),
    {"emulation.max_backlog", K_DURATION, OFF(emulation.max_backlog_s), 0, 1e12, NULL, NULL},
    KEY("service.instance", K_INSTANCE, OFF(service.instance)),
    NUM("service.shards", K_INT, OFF(service.shards), 1, 10000, NULL, " instances"),
    NUM("service.summary_interval", K_DOUBLE, OFF(service.summary_interval_s), 0, 86400, NULL,
        " seconds"),
    NUM("service.drain_timeout", K_DOUBLE, OFF(service.drain_timeout_s), 0, 86400, NULL,
        " seconds"),
    KEY("service.report", K_REPORT, 0),
    KEY("service.metrics_file", K_PATH, OFF(service.metrics_file)),
    KEY("service.metrics_listen", K_LISTEN, OFF(service.metrics_listen)),
};

/* The row of a numeric key, or NULL. */
static const key_def *numeric_key(const char *path)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(keys[i].path, path))
            return keys[i].unit ? &keys[i] : NULL;
    return NULL;
}

/* What d accepts, in words: "a whole number from 1 to 65535", "a number from 0.001 to
 * 1e+09 posts/s, or 0 (as fast as possible)". */
static void describe(const key_def *d, char *buf, size_t n)
{
    if (d->kind == K_INT || d->kind == K_U64)
        snprintf(buf, n, "a whole number from %.0f to %.0f%s%s%s", d->lo, d->hi, d->unit,
                 d->also ? ", or " : "", d->also ? d->also : "");
    else
        snprintf(buf, n, "a number from %g to %g%s%s%s", d->lo, d->hi, d->unit,
                 d->also ? ", or " : "", d->also ? d->also : "");
}

static int in_range(const key_def *d, double v)
{
    return (v >= d->lo && v <= d->hi) || (d->also && v == strtod(d->also, NULL));
}

/* Parse text as the value of the numeric key d; err gets the reason, without the key. */
static int parse_number(const key_def *d, const char *text, pp_number *out, char *err, size_t n)
{
    char q[48], want[160];
    memset(out, 0, sizeof(*out));
    describe(d, want, sizeof(want));
    switch (d->kind) {
    case K_SEED:
        if (pp_parse_uint64(text, &out->u))
            return pp_errf(err, n, "'%s' is not a whole number from 0 to %llu",
                           pp_quote_arg(text, 0, q, sizeof(q)), (unsigned long long)UINT64_MAX),
                   -1;
        return 0;
    case K_INT:
    case K_U64:
        /* The limits are whole numbers a double holds exactly (at most 1e18). */
        if (pp_parse_int64(text, &out->i) ||
            !((out->i >= (int64_t)d->lo && out->i <= (int64_t)d->hi) ||
              (d->also && out->i == (int64_t)strtod(d->also, NULL))))
            return pp_errf(err, n, "'%s' is not %s", pp_quote_arg(text, 0, q, sizeof(q)), want), -1;
        out->u = out->i > 0 ? (uint64_t)out->i : 0;
        return 0;
    case K_DOUBLE:
    case K_RATE:
        if (pp_parse_double(text, &out->d) || !in_range(d, out->d))
            return pp_errf(err, n, "'%s' is not %s", pp_quote_arg(text, 0, q, sizeof(q)), want), -1;
        return 0;
    case K_DELAY: {
        const char *colon = strchr(text, ':');
        char lo[64];
        if (!colon || (size_t)(colon - text) >= sizeof(lo))
            goto bad_delay;
        memcpy(lo, text, (size_t)(colon - text));
        lo[colon - text] = '\0';
        if (pp_parse_double(lo, &out->d) || pp_parse_double(colon + 1, &out->d2) ||
            !in_range(d, out->d) || !in_range(d, out->d2))
            goto bad_delay;
        if (out->d > out->d2)
            return pp_errf(err, n, "'%s': MIN is greater than MAX; write MIN:MAX with MIN <= MAX",
                           pp_quote_arg(text, 0, q, sizeof(q))),
                   -1;
        return 0;
    bad_delay:
        return pp_errf(err, n, "'%s' is not MIN:MAX, two numbers from %g to %g%s",
                       pp_quote_arg(text, 0, q, sizeof(q)), d->lo, d->hi, d->unit),
               -1;
    }
    default: return pp_errf(err, n, "not a numeric setting"), -1;
    }
}

int pp_config_parse_number(const char *key, const char *text, pp_number *out, char *errstr,
                           size_t errstr_size)
{
    const key_def *d = numeric_key(key);
    if (!d)
        return pp_errf(errstr, errstr_size, "%s is not a numeric setting", key), -1;
    return parse_number(d, text, out, errstr, errstr_size);
}

/* emulation.stages: one string of comma-separated stages, or a list of such strings. */
static int get_stages(load_ctx *x, yaml_node_t *vn, const char *k)
{
    /* Parsed apart and copied on success: an error leaves the stages as they were. */
    pp_load parsed, *l = &parsed;
    char why[512];
    memset(&parsed, 0, sizeof(parsed));
    if (vn->type == YAML_SEQUENCE_NODE) {
        if (vn->data.sequence.items.start == vn->data.sequence.items.top)
            goto empty;
        for (yaml_node_item_t *i = vn->data.sequence.items.start; i < vn->data.sequence.items.top;
             i++) {
            yaml_node_t *in = yaml_document_get_node(x->doc, *i);
            const char *s;
            if (want_scalar(x, in, k, &s))
                goto bad;
            if (l->repeat) {
                fail(x, in, "%s: 'repeat' must be the last stage", k);
                goto bad;
            }
            if (pp_load_parse_stages(s, l, why, sizeof(why))) {
                fail(x, in, "%s: %s", k, why);
                goto bad;
            }
        }
    } else {
        const char *s;
        if (want_scalar(x, vn, k, &s))
            goto bad;
        if (!*s)
            goto empty;
        if (pp_load_parse_stages(s, l, why, sizeof(why))) {
            fail(x, vn, "%s: %s", k, why);
            goto bad;
        }
    }
    if (!l->nstages)
        goto empty;
    pp_load *to = &x->c->emulation.load;
    memcpy(to->stage, parsed.stage, sizeof(parsed.stage));
    to->nstages = parsed.nstages;
    /* A final "repeat" item repeats; emulation.repeat, before or after, too. */
    to->repeat |= parsed.repeat;
    x->c->emulation.shape = PP_SHAPE_STAGES;
    return 0;
empty:
    fail(x, vn, "%s: no stage given; write for example \"100/s:30s, ramp 100-5000/s:5m\"", k);
bad:
    return -1;
}

/* One "table.column" of emulation.timestamp_columns into *out. */
static int live_column(load_ctx *x, yaml_node_t *n, const char *k, pp_live_column *out)
{
    const char *s, *dot;
    char q[64];
    if (want_scalar(x, n, k, &s))
        return -1;
    dot = strchr(s, '.');
    int t = -1;
    for (int i = 0; dot && i < PP_NTABLES; i++)
        if ((size_t)(dot - s) == strlen(pp_table_names[i]) &&
            !strncmp(s, pp_table_names[i], (size_t)(dot - s)))
            t = i;
    if (t < 0 || !dot[1])
        return fail(x, n,
                    "%s: '%s' is not TABLE.COLUMN with TABLE one of pin, geo, user "
                    "(for example geo.timestamp)",
                    k, pp_quote_arg(s, 0, q, sizeof(q)));
    for (const char *p = dot + 1; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '$'))
            return fail(x, n, "%s: '%s': a column name here is letters, digits, _ and $", k,
                        pp_quote_arg(s, 0, q, sizeof(q)));
    if (strlen(dot + 1) > 64)
        return fail(x, n, "%s: '%s': column names have at most 64 characters", k,
                    pp_quote_arg(s, 0, q, sizeof(q)));
    out->table = (enum pp_table)t;
    out->column = pp_xstrdup(dot + 1);
    return 0;
}

/* emulation.timestamp_columns: one "table.column" or a list of them (replacing the
 * default geo.timestamp). */
static int get_live_columns(load_ctx *x, yaml_node_t *vn, const char *k)
{
    pp_live_column got[PP_LIVE_COLUMNS_MAX];
    size_t n = 0;
    int rc = 0;
    if (vn->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = vn->data.sequence.items.start;
             i < vn->data.sequence.items.top && !rc; i++) {
            if (n == PP_LIVE_COLUMNS_MAX) {
                rc = fail(x, vn, "%s: at most %d columns", k, PP_LIVE_COLUMNS_MAX);
                break;
            }
            rc = live_column(x, yaml_document_get_node(x->doc, *i), k, &got[n]);
            n += !rc;
        }
        if (!rc && !n)
            rc = fail(x, vn, "%s: the list is empty; name at least one column", k);
    } else {
        rc = live_column(x, vn, k, &got[0]);
        n = !rc;
    }
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (got[i].table == got[j].table && !strcasecmp(got[i].column, got[j].column))
                rc = fail(x, vn, "%s: %s.%s is listed twice", k, pp_table_names[got[i].table],
                          got[i].column);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(got[i].column);
        return -1;
    }
    for (size_t i = 0; i < x->c->emulation.nlive; i++)
        free(x->c->emulation.live[i].column);
    memcpy(x->c->emulation.live, got, n * sizeof(got[0]));
    x->c->emulation.nlive = n;
    return 0;
}

static int apply_key(load_ctx *x, const key_def *d, yaml_node_t *vn)
{
    pp_config *c = x->c;
    void *field = (char *)c + d->offset;
    const char *k = d->path;
    pp_number num = {0};
    char why[256], q[48];
    const char *s;

    if (d->unit) {
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (parse_number(d, s, &num, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
    }
    switch (d->kind) {
    case K_STR: return get_str(x, vn, k, (char **)field);
    case K_PATH: return get_path(x, vn, k, (char **)field);
    case K_INT: *(int *)field = (int)num.i; return 0;
    case K_DOUBLE: *(double *)field = num.d; return 0;
    case K_BOOL: return get_bool(x, vn, k, (int *)field);
    case K_U64: *(uint64_t *)field = num.u; return 0;
    case K_SEED:
        c->emulation.seed = num.u;
        c->emulation.has_seed = 1;
        return 0;
    case K_RATE:
        c->emulation.rate = num.d;
        c->emulation.shape = PP_SHAPE_RATE;
        return 0;
    case K_DELAY:
        c->emulation.delay_min_s = num.d;
        c->emulation.delay_max_s = num.d2;
        c->emulation.shape = PP_SHAPE_DELAY;
        return 0;
    case K_STAGES: return get_stages(x, vn, k);
    case K_ARRIVALS:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_load_parse_arrivals(s, &c->emulation.load.arrivals, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        return 0;
    case K_DURATION: {
        double v;
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (d->lo == 0 && !strcmp(s, "0"))
            v = 0;
        else if (pp_load_parse_duration(s, &v, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        if (v < d->lo || v > d->hi)
            return fail(x, vn, "%s: '%s' is not a duration from %gs to %gs", k,
                        pp_quote_arg(s, 0, q, sizeof(q)), d->lo, d->hi);
        *(double *)field = v;
        return 0;
    }
    case K_TOD:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_load_parse_time_of_day(s, &c->emulation.load.diurnal.peak_at_s, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        return 0;
    case K_ZONE:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_load_parse_zone(s, &c->emulation.load.diurnal, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        return 0;
    case K_POPULARITY:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_config_parse_popularity(s, &c->emulation.popularity_s, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        return 0;
    case K_TIMESTAMPS:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (!strcmp(s, "now"))
            c->emulation.timestamps_now = 1;
        else if (!strcmp(s, "source"))
            c->emulation.timestamps_now = 0;
        else
            return fail(x, vn,
                        "%s: '%s' is not source (the database's values) or now (the emission "
                        "time)",
                        k, pp_quote_arg(s, 0, q, sizeof(q)));
        return 0;
    case K_LIVE_COLUMNS: return get_live_columns(x, vn, k);
    case K_WARMUP:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_config_parse_warmup(s, &c->emulation.warmup_s, &c->emulation.warmup_posts, why,
                                   sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        return 0;
    case K_REPORT:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (!strcmp(s, "-"))
            set_str(&c->service.report, s);
        else
            return get_path(x, vn, k, &c->service.report);
        return 0;
    case K_DELIVERY:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (!strcmp(s, "exactly_once"))
            c->kafka.exactly_once = 1;
        else if (!strcmp(s, "idempotent"))
            c->kafka.exactly_once = 0;
        else
            return fail(x, vn, "%s: '%s' is not idempotent or exactly_once", k, s);
        return 0;
    case K_TLS_MODE:
        if (want_scalar(x, vn, k, &s))
            return -1;
        for (int m = PP_TLS_DISABLED; m <= PP_TLS_VERIFY_IDENTITY; m++)
            if (!strcmp(s, pp_tls_mode_names[m])) {
                c->source.tls = (enum pp_tls_mode)m;
                return 0;
            }
        if (!strcmp(s, "true") || !strcmp(s, "false")) {
            c->source.tls = s[0] == 't' ? PP_TLS_REQUIRED : PP_TLS_DISABLED;
            return 0;
        }
        return fail(x, vn,
                    "%s: '%s' is not one of disabled, preferred, required, verify_ca, "
                    "verify_identity",
                    k, s);
    case K_PASSWORD_INLINE:
        return fail(x, vn,
                    "%s: passwords are not accepted inline; put it in a file readable "
                    "only by the service and name it in source.password_file, or use "
                    "source.credentials",
                    k);
    case K_PASSWORD_FILE: {
        char *path = NULL, err[512];
        if (get_path(x, vn, k, &path))
            return -1;
        char *pw = read_secret_file(path, err, sizeof(err));
        free(path);
        if (!pw)
            return fail(x, vn, "%s: %s", k, err);
        pp_secret_free(c->source.password);
        c->source.password = pw;
        return 0;
    }
    case K_CREDS: {
        char *path = NULL;
        if (get_path(x, vn, k, &path))
            return -1;
        int rc = load_credentials(x, vn, path);
        free(path);
        return rc;
    }
    case K_PROPS: {
        char *path = NULL;
        if (get_path(x, vn, k, &path))
            return -1;
        props_ctx pc = {path, NULL, 0};
        char ferr[640];
        if (check_file(path, 1, CONFIG_MAX_BYTES, ferr, sizeof(ferr))) {
            free(path);
            return fail(x, vn, "%s: %s", k, ferr);
        }
        pp_kprops kp;
        int rc = pp_properties_load(path, on_property, &pc, x->errstr, x->errstr_size);
        if (rc == 0)
            rc = pp_kprops_translate(pc.entries, pc.n, path, &kp, x->errstr, x->errstr_size);
        if (rc == 0) {
            merge_kprops(c, &kp);
            pp_kprops_release(&kp);
        }
        pp_kv_free(pc.entries, pc.n);
        free(path);
        return rc;
    }
    case K_BOOTSTRAP: {
        char origin[PATH_MAX + 32];
        if (want_scalar(x, vn, k, &s))
            return -1;
        origin_of(x, vn, origin, sizeof(origin));
        pp_config_set_kafka(c, "bootstrap.servers", s, origin);
        return 0;
    }
    case K_NAME:
        if (want_scalar(x, vn, k, &s))
            return -1;
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return fail(x, vn, "%s: '%s' holds a control character", k,
                            pp_quote_arg(s, 0, q, sizeof(q)));
        return get_str(x, vn, k, (char **)field);
    case K_INSTANCE:
        if (get_str(x, vn, k, (char **)field))
            return -1;
        if (!pp_config_instance_ok(*(char **)field))
            return fail(x, vn, "%s: '%s' may not contain quotes, backslashes or control characters",
                        k, pp_quote_arg(*(char **)field, 0, q, sizeof(q)));
        return 0;
    case K_LISTEN:
        if (want_scalar(x, vn, k, &s))
            return -1;
        if (pp_config_parse_listen(s, NULL, 0, NULL, why, sizeof(why)))
            return fail(x, vn, "%s: %s", k, why);
        set_str((char **)field, s);
        return 0;
    case K_SETTINGS:
        if (vn->type != YAML_MAPPING_NODE)
            return fail(x, vn, "%s: expected a mapping of librdkafka properties", k);
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *skn = yaml_document_get_node(x->doc, p->key);
            yaml_node_t *svn = yaml_document_get_node(x->doc, p->value);
            const char *sk, *sv;
            char origin[PATH_MAX + 32];
            if (want_key(x, skn, k, &sk) || check_duplicate(x, vn, p, k))
                return -1;
            if (want_scalar(x, svn, sk, &sv))
                return -1;
            origin_of(x, svn, origin, sizeof(origin));
            pp_config_set_kafka(c, sk, sv, origin);
        }
        return 0;
    }
    return -1;
}

int pp_config_parse_popularity(const char *text, double *s_out, char *err, size_t n)
{
    char q[48];
    double v = 1;
    if (!strcmp(text, "uniform")) {
        *s_out = 0;
        return 0;
    }
    if (strncmp(text, "zipf", 4))
        goto bad;
    const char *p = text + 4;
    if (*p) {
        char num[64];
        size_t len;
        if (*p == '(') {
            const char *close = strchr(p, ')');
            if (!close || close[1])
                goto bad;
            len = (size_t)(close - p - 1);
            p++;
        } else if (*p == ' ' || *p == ':') {
            p++;
            len = strlen(p);
        } else {
            goto bad;
        }
        if (len >= sizeof(num))
            goto bad;
        memcpy(num, p, len);
        num[len] = '\0';
        if (pp_parse_double(num, &v) || !(v > 0 && v <= 10))
            return pp_errf(err, n,
                           "'%s': the Zipf exponent is a number above 0 and at most 10 "
                           "(1 is the classic Zipf law)",
                           pp_quote_arg(text, 0, q, sizeof(q))),
                   -1;
    }
    *s_out = v;
    return 0;
bad:
    return pp_errf(err, n, "'%s' is not uniform or zipf(S) (for example zipf(1.1))",
                   pp_quote_arg(text, 0, q, sizeof(q))),
           -1;
}

int pp_config_parse_warmup(const char *text, double *secs, uint64_t *posts, char *err, size_t n)
{
    char q[48], num[64], why[256];
    const char *sp = strchr(text, ' ');
    if (sp && !strcmp(sp + 1, "posts") && (size_t)(sp - text) < sizeof(num)) {
        int64_t v;
        memcpy(num, text, (size_t)(sp - text));
        num[sp - text] = '\0';
        if (pp_parse_int64(num, &v) || v < 0 || v > (int64_t)1000000000000000000)
            return pp_errf(err, n, "'%s': the number of posts is a whole number from 0 to 10^18",
                           pp_quote_arg(text, 0, q, sizeof(q))),
                   -1;
        *posts = (uint64_t)v;
        *secs = 0;
        return 0;
    }
    if (!strcmp(text, "0")) {
        *secs = 0;
        *posts = 0;
        return 0;
    }
    if (pp_load_parse_duration(text, secs, why, sizeof(why)))
        return pp_errf(err, n,
                       "'%s' is not a duration (30s, 5m) nor a number of posts (1000 "
                       "posts): %s",
                       pp_quote_arg(text, 0, q, sizeof(q)), why),
               -1;
    *posts = 0;
    return 0;
}

int pp_config_parse_shard(const char *text, int *index, int *shards, char *err, size_t n)
{
    char q[48], a[32];
    const char *slash = strchr(text, '/');
    int64_t i, k;
    if (!slash || (size_t)(slash - text) >= sizeof(a))
        goto bad;
    memcpy(a, text, (size_t)(slash - text));
    a[slash - text] = '\0';
    if (pp_parse_int64(a, &i) || pp_parse_int64(slash + 1, &k) || k < 1 || k > 10000 || i < 0 ||
        i >= k)
        goto bad;
    *index = (int)i;
    *shards = (int)k;
    return 0;
bad:
    return pp_errf(err, n,
                   "'%s' is not I/N, this instance's index I from 0 to N-1 out of N instances "
                   "(N at most 10000), for example 0/3",
                   pp_quote_arg(text, 0, q, sizeof(q))),
           -1;
}

int pp_config_instance_ok(const char *name)
{
    for (size_t i = 0; name[i]; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            return 0;
    }
    return 1;
}

int pp_config_parse_listen(const char *text, char *host, size_t hostn, int *port, char *err,
                           size_t n)
{
    char q[80];
    const char *h = text, *colon, *why = NULL;
    size_t hlen;
    int64_t p;
    if (*text == '[') { /* [v6]:port */
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            why = "an IPv6 address is written [ADDR]:PORT";
            goto bad;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (hlen == 0 || strspn(h, "0123456789abcdefABCDEF:.") < hlen) {
            why = "not an IPv6 address between the brackets";
            goto bad;
        }
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            why = "no :PORT";
            goto bad;
        }
        hlen = (size_t)(colon - text);
        if (memchr(text, ':', hlen)) {
            why = "an IPv6 address is written [ADDR]:PORT";
            goto bad;
        }
        if (hlen == 0 || hlen > 253 ||
            strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") <
                hlen) {
            why = "the host is not an address or a name";
            goto bad;
        }
    }
    if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        pp_parse_int64(colon + 1, &p) || p < 1 || p > 65535) {
        why = "the port is not a number from 1 to 65535";
        goto bad;
    }
    if (host) {
        if (hlen >= hostn) {
            why = "the host is too long";
            goto bad;
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port)
        *port = (int)p;
    return 0;
bad:
    return pp_errf(err, n,
                   "'%s' is not HOST:PORT (%s); for example 127.0.0.1:9464, 0.0.0.0:9464 for "
                   "every interface, or [::1]:9464",
                   pp_quote_arg(text, 0, q, sizeof(q)), why),
           -1;
}

int pp_config_apply_shard(pp_config *c, int index, int shards, char *err, size_t n)
{
    if (shards < 1 || shards > 10000 || index < 0 || index >= shards)
        return pp_errf(err, n, "shard %d/%d: the index must be from 0 to %d", index, shards,
                       shards - 1),
               -1;
    if (c->emulation.count && c->emulation.count < (uint64_t)shards)
        return pp_errf(err, n,
                       "emulation.count (--count) is %llu, fewer posts than the %d shards "
                       "(--shard, service.shards): some instances would have none to send "
                       "(and a count of 0 means no limit); use at most %llu shards",
                       (unsigned long long)c->emulation.count, shards,
                       (unsigned long long)c->emulation.count),
               -1;
    c->service.shard_index = index;
    c->service.shards = shards;
    if (shards == 1)
        return 0;
    /* Names that must differ between running instances: the instance (message headers,
     * sequences) and a configured transactional id (the same one would fence the other). */
    char **names[] = {&c->service.instance, &c->kafka.transactional_id};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!*names[i])
            continue;
        size_t len = strlen(*names[i]) + 16;
        char *s = pp_xmalloc(len);
        snprintf(s, len, "%s-%d", *names[i], index);
        free(*names[i]);
        *names[i] = s;
    }
    if (c->emulation.count) /* the configured total, the first shards taking the remainder */
        c->emulation.count = c->emulation.count / (uint64_t)shards +
                             ((uint64_t)index < c->emulation.count % (uint64_t)shards);
    if (c->emulation.has_seed) { /* a different, still reproducible, sample per shard */
        c->emulation.seed =
            pp_rng_mix64(c->emulation.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(index + 1));
    }
    return 0;
}

void pp_config_load(const pp_config *c, pp_load *out)
{
    *out = c->emulation.load;
    if (c->emulation.shape == PP_SHAPE_STAGES)
        return;
    out->nstages = 1;
    out->repeat = 0;
    pp_stage *st = &out->stage[0];
    memset(st, 0, sizeof(*st));
    st->duration_s = INFINITY;
    switch (c->emulation.shape) {
    case PP_SHAPE_RATE:
        st->kind = PP_STAGE_RATE;
        st->from = st->to = c->emulation.rate;
        break;
    case PP_SHAPE_DIURNAL: st->kind = PP_STAGE_DIURNAL; break;
    default:
        st->kind = PP_STAGE_DELAY;
        st->from = c->emulation.delay_min_s;
        st->to = c->emulation.delay_max_s;
        break;
    }
}

/* Edit distance, for suggesting the key a typo meant. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[128];
    if (la >= 127 || lb >= 127)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known key or section closest to path, when it is close enough to be the one
 * meant. The result lives in static storage. */
static const char *closest_key(const char *path)
{
    static char best[128];
    size_t best_d = 3;
    best[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *k = keys[i].path;
        for (const char *end = strchr(k, '.');; end = strchr(end + 1, '.')) {
            char cand[128];
            size_t len = end ? (size_t)(end - k) : strlen(k);
            if (len >= sizeof(cand))
                break;
            memcpy(cand, k, len);
            cand[len] = '\0';
            size_t d = distance(path, cand);
            if (d < best_d) {
                best_d = d;
                memcpy(best, cand, len + 1);
            }
            if (!end)
                break;
        }
    }
    return best[0] ? best : NULL;
}

static int walk(load_ctx *x, yaml_node_t *map, const char *prefix)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(x, map, "%s: expected a mapping", *prefix ? prefix : "top level");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        const char *k;
        char path[256];
        int section = 0;
        const key_def *def = NULL;

        if (want_key(x, kn, prefix, &k) || check_duplicate(x, map, p, prefix))
            return -1;
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k);
        size_t plen = strlen(path);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (!strcmp(keys[i].path, path))
                def = &keys[i];
            else if (!strncmp(keys[i].path, path, plen) && keys[i].path[plen] == '.')
                section = 1;
        }
        if (def) {
            if (apply_key(x, def, vn))
                return -1;
            /* The daily curve is the load unless stages (which may use it) were given. */
            if (!strncmp(path, "emulation.diurnal.", 18) &&
                x->c->emulation.shape != PP_SHAPE_STAGES)
                x->c->emulation.shape = PP_SHAPE_DIURNAL;
        } else if (section) {
            if (vn->type == YAML_SCALAR_NODE && !*scalar(vn))
                continue; /* an empty section */
            if (walk(x, vn, path))
                return -1;
        } else {
            const char *near = closest_key(path);
            char hint[300] = "";
            if (near)
                snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);
            else if (!*prefix)
                snprintf(hint, sizeof(hint),
                         "; sections are source, kafka, kinesis, emulation, service");
            return fail(x, kn,
                        "unknown key '%s'%s (see pinpostd.yaml(5) or etc/pinpostd.yaml "
                        "for the keys)",
                        path, hint);
        }
    }
    return 0;
}

int pp_config_load_file(pp_config *c, const char *path, char *errstr, size_t errstr_size)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    struct stat st;

    if (stat(path, &st) == 0 && check_file(path, 0, CONFIG_MAX_BYTES, errstr, errstr_size))
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        pp_errf(errstr, errstr_size, "%s: cannot open the configuration file: %s", path,
                strerror(errno));
        return -1;
    }
    set_str(&c->path, path);
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (load_document(&parser, &doc, path, errstr, errstr_size)) {
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    load_ctx x = {.c = c,
                  .file = path,
                  .dir = pp_dirname(path),
                  .doc = &doc,
                  .errstr = errstr,
                  .errstr_size = errstr_size};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = 0; /* an empty file: defaults */
    else
        rc = walk(&x, root, "");
    free(x.dir);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* The environment variables that set a key, for containers and Kubernetes where a mounted
 * file is more work than an env: entry. */
static const struct {
    const char *name, *key;
} env_keys[] = {
    {"PINPOSTD_BOOTSTRAP_SERVERS", "kafka.bootstrap_servers"},
    {"PINPOSTD_DB_HOST", "source.host"},
    {"PINPOSTD_DB_PORT", "source.port"},
    {"PINPOSTD_DB_USER", "source.user"},
    {"PINPOSTD_DB_DATABASE", "source.database"},
    {"PINPOSTD_DB_PASSWORD_FILE", "source.password_file"},
    {"PINPOSTD_TOPIC_PREFIX", "kafka.topic_prefix"},
    {"PINPOSTD_INSTANCE", "service.instance"},
    {"PINPOSTD_SHARDS", "service.shards"},
    {"PINPOSTD_METRICS_LISTEN", "service.metrics_listen"},
    {"PINPOSTD_METRICS_FILE", "service.metrics_file"},
    {"PINPOSTD_REPORT", "service.report"},
};

/* Warn about a PINPOSTD_ variable that looks like a misspelt one of env_keys, or is in one
 * of their groups (PINPOSTD_DB_, _KAFKA_, _METRICS_): it would otherwise be ignored without
 * a word. Other names far from every one (the test harness's PINPOSTD_BIN) are not ours to
 * judge. */
static void warn_misspelt_env(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[128], q[160];
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (strncmp(*e, "PINPOSTD_", 9) != 0 || len >= sizeof(name))
            continue;
        memcpy(name, *e, len);
        name[len] = '\0';
        const char *near = NULL;
        size_t i;
        for (i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
            if (!strcmp(name, env_keys[i].name))
                break;
            if (!near && distance(name, env_keys[i].name) <= 2)
                near = env_keys[i].name;
        }
        /* Unknown names in our sections (PINPOSTD_DB_NAME, PINPOSTD_KAFKA_...) are
         * mistakes too, with or without a near one. */
        int ours = !strncmp(name, "PINPOSTD_DB_", 12) || !strncmp(name, "PINPOSTD_KAFKA_", 15) ||
                   !strncmp(name, "PINPOSTD_METRICS_", 17);
        if (i == sizeof(env_keys) / sizeof(env_keys[0]) && (near || ours))
            pp_log_warn("environment variable %s is not one pinpostd reads%s%s%s",
                        pp_quote_arg(name, 0, q, sizeof(q)), near ? "; did you mean " : "",
                        near ? near : "", near ? "?" : " (pinpostd.yaml(5) lists them)");
    }
}

int pp_config_apply_env(pp_config *c, char *errstr, size_t errstr_size)
{
    warn_misspelt_env();
    /* The name a user of MariaDB's images guesses first: never read, so never silently. */
    if (getenv("PINPOSTD_DB_PASSWORD"))
        return pp_errf(errstr, errstr_size,
                       "environment variable PINPOSTD_DB_PASSWORD is not read (an environment "
                       "shows in inspect and /proc): put the password in a file, name it in "
                       "PINPOSTD_DB_PASSWORD_FILE and unset PINPOSTD_DB_PASSWORD"),
               -1;
    for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
        const char *v = getenv(env_keys[i].name);
        if (!v)
            continue;
        if (!*v)
            return pp_errf(errstr, errstr_size,
                           "environment variable %s (%s) is set but empty: give it a value "
                           "or unset it",
                           env_keys[i].name, env_keys[i].key),
                   -1;
        if (!pp_json_utf8_valid(v, strlen(v)))
            return pp_errf(errstr, errstr_size,
                           "environment variable %s (%s) is not valid UTF-8: set it again "
                           "in UTF-8",
                           env_keys[i].name, env_keys[i].key),
                   -1;
        if (!strncmp(v, "tcp://", 6) || !strncmp(v, "udp://", 6))
            return pp_errf(errstr, errstr_size,
                           "environment variable %s is '%.80s', a Kubernetes service link (a "
                           "Service named like the variable's prefix sets it): set "
                           "enableServiceLinks: false in the pod spec, or rename the Service",
                           env_keys[i].name, v),
                   -1;
        struct stat st;
        if (!strcmp(env_keys[i].key, "source.password_file") && !strstr(v, "${") &&
            stat(v, &st) != 0 && (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG))
            return pp_errf(errstr, errstr_size,
                           "environment variable %s names no file (its value is not shown: it "
                           "may be the password itself); give the path of a file holding the "
                           "password",
                           env_keys[i].name),
                   -1;
        const key_def *def = NULL;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !def; k++)
            if (!strcmp(keys[k].path, env_keys[i].key))
                def = &keys[k];
        if (!def)
            return pp_errf(errstr, errstr_size, "%s: no key %s", env_keys[i].name, env_keys[i].key),
                   -1;
        /* The value goes through the file's own path: one YAML scalar in a document of
         * its own, applied by the key's row, relative paths from the working directory. */
        yaml_document_t doc;
        yaml_tag_directive_t none = {0};
        char where[160];
        int id = 0;
        if (yaml_document_initialize(&doc, NULL, &none, &none, 1, 1))
            id = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)v, (int)strlen(v),
                                          YAML_PLAIN_SCALAR_STYLE);
        if (!id) {
            fprintf(stderr, "pinpostd: out of memory reading %s\n", env_keys[i].name);
            abort();
        }
        snprintf(where, sizeof(where), "environment variable %s", env_keys[i].name);
        load_ctx x = {.c = c,
                      .file = where,
                      .dir = pp_xstrdup("."),
                      .doc = &doc,
                      .errstr = errstr,
                      .errstr_size = errstr_size,
                      .from_env = 1};
        int rc = apply_key(&x, def, yaml_document_get_node(&doc, id));
        free(x.dir);
        yaml_document_delete(&doc);
        if (rc)
            return -1;
        /* A host or port from the environment means TCP, whatever socket the file named. */
        if (!strcmp(def->path, "source.host") || !strcmp(def->path, "source.port")) {
            free(c->source.socket);
            c->source.socket = NULL;
        }
    }
    return 0;
}

/* Whether path (the value of key) can be written at exit: a file to create or replace in a
 * directory this process may write (what pp_file_write does: a temporary beside it, then a
 * rename), or an existing device or pipe it may write. Anything the writer judges better
 * (a dangling link, /dev/stdout over a closed descriptor) is left to it. */
static int check_output(const char *path, const char *key, char *errstr, size_t errstr_size)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return pp_errf(errstr, errstr_size, "%s %s: is a directory; give a file name", key,
                           path),
                   -1;
        if (!S_ISREG(st.st_mode)) { /* a device or a pipe, written in place */
            if (access(path, W_OK) != 0)
                return pp_errf(errstr, errstr_size, "%s %s: cannot write to it: %s", key, path,
                               strerror(errno)),
                       -1;
            return 0;
        }
    } else if (errno == EACCES || errno == ENOTDIR || errno == ELOOP) {
        return pp_errf(errstr, errstr_size, "%s %s: cannot look it up: %s (user %u)", key, path,
                       strerror(errno), (unsigned)geteuid()),
               -1;
    } else if (errno != ENOENT || lstat(path, &st) == 0) {
        return 0; /* a dangling link: the writer says what it finds */
    }
    char *dir = pp_dirname(path);
    const char *why = NULL;
    if (stat(dir, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(dir, W_OK | X_OK) != 0)
        why = strerror(errno);
    if (why)
        pp_errf(errstr, errstr_size,
                "%s %s: cannot create a file in the directory %s: %s (user %u); point it into "
                "a directory this user may write (in a container, a volume)",
                key, path, dir, why, (unsigned)geteuid());
    free(dir);
    return why ? -1 : 0;
}

int pp_config_check_outputs(const pp_config *c, char *errstr, size_t errstr_size)
{
    if (c->service.report && strcmp(c->service.report, "-") != 0 &&
        check_output(c->service.report, "service.report (--report, PINPOSTD_REPORT)", errstr,
                     errstr_size))
        return -1;
    if (c->service.metrics_file &&
        check_output(c->service.metrics_file, "service.metrics_file (PINPOSTD_METRICS_FILE)",
                     errstr, errstr_size))
        return -1;
    return 0;
}

/* Topic and stream names: 1 to max characters of [a-zA-Z0-9._-]. Takes name (freed). */
static int check_name(char *name, size_t max, const char *what, const char *kind, const char *key,
                      int t, char *errstr, size_t errstr_size)
{
    size_t n = strlen(name);
    /* Kafka refuses "." and ".." (they would be directory names on the broker), and a
     * producer would retry them forever. */
    int bad = n == 0 || n > max || !strcmp(name, ".") || !strcmp(name, "..");
    for (size_t i = 0; i < n && !bad; i++)
        bad = !(name[i] == '.' || name[i] == '_' || name[i] == '-' ||
                (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                (name[i] >= '0' && name[i] <= '9'));
    if (bad)
        pp_errf(errstr, errstr_size,
                "%s name '%s' for %s is not a valid %s name (1-%zu of [a-zA-Z0-9._-], not "
                "'.' or '..'); fix kafka.topic_prefix or %s.%s",
                what, name, pp_table_names[t], kind, max, key, pp_table_names[t]);
    free(name);
    return bad ? -1 : 0;
}

/* A bootstrap.servers that names no broker (empty, or only commas and spaces) leaves
 * librdkafka with nothing to connect to, retrying forever. Unset is the sink's to report
 * (the demo needs none). */
static int check_bootstrap(const pp_config *c, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < c->kafka.nsettings; i++) {
        const pp_kv *kv = &c->kafka.settings[i];
        if (strcmp(kv->key, "bootstrap.servers") != 0)
            continue;
        if (kv->value[strspn(kv->value, " \t,")] == '\0')
            return pp_errf(errstr, errstr_size,
                           "%s: bootstrap.servers is empty: name at least one broker as "
                           "host:port (in client.properties, or kafka.bootstrap_servers)",
                           kv->origin),
                   -1;
    }
    return 0;
}

int pp_config_validate(const pp_config *c, char *errstr, size_t errstr_size)
{
    if (!c->kafka.enabled && !c->kinesis.enabled)
        return pp_errf(errstr, errstr_size,
                       "kafka.enabled and kinesis.enabled are both false: enable at least one "
                       "sink"),
               -1;
    for (int t = 0; t < PP_NTABLES && c->kinesis.enabled; t++)
        if (check_name(pp_config_stream(c, t), 128, "stream", "Kinesis stream", "kinesis.streams",
                       t, errstr, errstr_size))
            return -1;
    if (c->source.tls >= PP_TLS_VERIFY_CA && !c->source.tls_ca)
        return pp_errf(errstr, errstr_size,
                       "source.tls is %s but source.tls_ca is not set: name the PEM file of "
                       "the CA that signed the database server's certificate",
                       pp_tls_mode_names[c->source.tls]),
               -1;
    if (c->source.tls < PP_TLS_VERIFY_CA && c->source.tls_ca)
        return pp_errf(errstr, errstr_size,
                       "source.tls_ca is set but source.tls is %s, which does not verify the "
                       "server; use verify_ca or verify_identity",
                       pp_tls_mode_names[c->source.tls]),
               -1;
    if (c->emulation.shape == PP_SHAPE_RATE && c->emulation.rate < 0)
        return pp_errf(errstr, errstr_size, "emulation.rate must be >= 0"), -1;
    int diurnal = c->emulation.shape == PP_SHAPE_DIURNAL;
    for (size_t i = 0; c->emulation.shape == PP_SHAPE_STAGES && i < c->emulation.load.nstages; i++)
        diurnal |= c->emulation.load.stage[i].kind == PP_STAGE_DIURNAL;
    const pp_diurnal *dn = &c->emulation.load.diurnal;
    diurnal |= dn->peak > 0 || dn->trough > 0; /* given, if not used: still checked */
    if (diurnal && !(dn->peak > 0))
        return pp_errf(errstr, errstr_size,
                       "the load follows the daily curve but emulation.diurnal.peak is not set: "
                       "give peak and trough (posts/s), peak_at and tz"),
               -1;
    if (diurnal && dn->trough > dn->peak)
        return pp_errf(errstr, errstr_size,
                       "emulation.diurnal.trough (%g posts/s) is above emulation.diurnal.peak "
                       "(%g posts/s)",
                       dn->trough, dn->peak),
               -1;
    if (c->kafka.enabled && check_bootstrap(c, errstr, errstr_size))
        return -1;
    for (int t = 0; t < PP_NTABLES; t++)
        if (check_name(pp_config_topic(c, t), 249, "topic", "Kafka topic", "kafka.topics", t,
                       errstr, errstr_size))
            return -1;
    if (!pp_config_instance_ok(c->service.instance))
        return pp_errf(errstr, errstr_size,
                       "service.instance may not contain quotes, backslashes or control "
                       "characters"),
               -1;
    return 0;
}

/* The name given, or lead + prefix + sep + the table's short name. */
static char *name_for(const char *given, const char *lead, const char *prefix, char sep,
                      enum pp_table t)
{
    if (given)
        return pp_xstrdup(given);
    size_t n = strlen(lead) + strlen(prefix) + strlen(pp_table_names[t]) + 2;
    char *s = pp_xmalloc(n);
    snprintf(s, n, "%s%s%c%s", lead, prefix, sep, pp_table_names[t]);
    return s;
}

char *pp_config_stream(const pp_config *c, enum pp_table t)
{
    return name_for(c->kinesis.streams[t], "streaming-", c->kafka.topic_prefix, '-', t);
}

char *pp_config_topic(const pp_config *c, enum pp_table t)
{
    return name_for(c->kafka.topics[t], "", c->kafka.topic_prefix, '.', t);
}

void pp_config_print(const pp_config *c, FILE *out)
{
    fprintf(out, "config: %s\n", c->path ? c->path : "(built-in defaults)");
    fprintf(out, "source:\n");
    if (c->source.socket)
        fprintf(out, "  socket: %s\n", c->source.socket);
    else
        fprintf(out, "  host: %s\n  port: %d\n", c->source.host, c->source.port);
    fprintf(out, "  user: %s\n  password: %s\n  database: %s\n  tls: %s\n",
            c->source.user ? c->source.user : "(none)",
            c->source.password ? "(set, redacted)" : "(none)",
            c->source.database ? c->source.database : "(none)", pp_tls_mode_names[c->source.tls]);
    if (c->source.tls_ca)
        fprintf(out, "  tls_ca: %s\n", c->source.tls_ca);
    fprintf(out, "  batch: %d\n  keyspace_refresh: %gs\n", c->source.batch,
            c->source.keyspace_refresh_s);
    for (int t = 0; t < PP_NTABLES; t++)
        fprintf(out, "  tables.%s: %s (key %s)\n", pp_table_names[t], c->source.tables[t].table,
                c->source.tables[t].key);
    fprintf(out, "kafka:%s\n", c->kafka.enabled ? "" : " (disabled: kafka.enabled is false)");
    for (int t = 0; t < PP_NTABLES; t++) {
        char *topic = pp_config_topic(c, t);
        fprintf(out, "  topic.%s: %s\n", pp_table_names[t], topic);
        free(topic);
    }
    fprintf(out, "  delivery: %s\n", c->kafka.exactly_once ? "exactly_once" : "idempotent");
    if (c->kafka.create_topics)
        fprintf(out,
                "  create_topics: partitions %d, replication factor %d (-1 = broker "
                "default)\n",
                c->kafka.partitions, c->kafka.replication_factor);
    for (size_t i = 0; i < c->kafka.nsettings; i++) {
        const pp_kv *kv = &c->kafka.settings[i];
        fprintf(out, "  %s = %s   (%s)\n", kv->key,
                pp_config_is_secret_key(kv->key) ? "(redacted)" : kv->value, kv->origin);
    }
    if (c->msk.enabled) {
        fprintf(out, "  msk iam: OAUTHBEARER with MSK IAM tokens; region %s\n",
                c->kafka.aws_region ? c->kafka.aws_region : "(from the environment or brokers)");
        if (c->msk.role_arn)
            fprintf(out, "  msk iam: assume role %s (session %s%s%s, STS region %s)\n",
                    c->msk.role_arn,
                    c->msk.role_session_name ? c->msk.role_session_name : "pinpostd",
                    c->msk.external_id ? ", external id set" : "", "",
                    c->msk.sts_region ? c->msk.sts_region : "default");
        if (c->msk.profile)
            fprintf(out, "  msk iam: profile %s\n", c->msk.profile);
    }
    fprintf(out, "emulation:\n");
    const pp_load *ld = &c->emulation.load;
    const pp_diurnal *dn = &ld->diurnal;
    if (c->emulation.shape == PP_SHAPE_STAGES) {
        fprintf(out, "  stages:\n");
        for (size_t i = 0; i < ld->nstages; i++) {
            char d[128];
            pp_load_describe_stage(&ld->stage[i], d, sizeof(d));
            fprintf(out, "    - %s\n", d);
        }
        fprintf(out, "  repeat: %s\n", ld->repeat ? "true" : "false");
    } else if (c->emulation.shape == PP_SHAPE_RATE) {
        fprintf(out, "  rate: %g posts/s%s\n", c->emulation.rate,
                c->emulation.rate == 0 ? " (as fast as possible)" : "");
    } else if (c->emulation.shape == PP_SHAPE_DELAY) {
        fprintf(out, "  delay: %g:%g s\n", c->emulation.delay_min_s, c->emulation.delay_max_s);
    }
    if (c->emulation.shape == PP_SHAPE_DIURNAL || dn->peak > 0) {
        char tz[32];
        if (dn->tz_local)
            snprintf(tz, sizeof(tz), "local");
        else
            snprintf(tz, sizeof(tz), "UTC%c%02d:%02d", dn->utc_offset_s < 0 ? '-' : '+',
                     abs(dn->utc_offset_s) / 3600, abs(dn->utc_offset_s) / 60 % 60);
        fprintf(out,
                "  diurnal: peak %g posts/s at %02d:%02d, trough %g posts/s, tz %s, day length "
                "%gs\n",
                dn->peak, (int)(dn->peak_at_s / 3600), (int)fmod(dn->peak_at_s / 60, 60),
                dn->trough, tz, dn->day_length_s);
    }
    fprintf(out, "  arrivals: %s\n", ld->arrivals == PP_ARRIVALS_POISSON ? "poisson" : "fixed");
    if (c->emulation.popularity_s > 0)
        fprintf(out, "  popularity: zipf(%g)\n", c->emulation.popularity_s);
    else
        fprintf(out, "  popularity: uniform\n");
    fprintf(out, "  timestamps: %s", c->emulation.timestamps_now ? "now (" : "source\n");
    for (size_t i = 0; c->emulation.timestamps_now && i < c->emulation.nlive; i++)
        fprintf(out, "%s%s.%s", i ? ", " : "", pp_table_names[c->emulation.live[i].table],
                c->emulation.live[i].column);
    if (c->emulation.timestamps_now)
        fprintf(out, ")\n");
    if (c->emulation.warmup_posts)
        fprintf(out, "  warmup: %llu posts\n", (unsigned long long)c->emulation.warmup_posts);
    else if (c->emulation.warmup_s > 0)
        fprintf(out, "  warmup: %gs\n", c->emulation.warmup_s);
    fprintf(out, "  max_backlog: %gs%s\n", c->emulation.max_backlog_s,
            c->emulation.max_backlog_s > 0 ? "" : " (never skip)");
    if (c->emulation.has_seed)
        fprintf(out, "  seed: %llu\n", (unsigned long long)c->emulation.seed);
    else
        fprintf(out, "  seed: (random per run)\n");
    fprintf(out, "  count: %llu%s\n  duration: %gs%s\n", (unsigned long long)c->emulation.count,
            c->emulation.count ? "" : " (unlimited)", c->emulation.duration_s,
            c->emulation.duration_s > 0 ? "" : " (unlimited)");
    if (c->kinesis.enabled) {
        fprintf(out, "kinesis:\n");
        for (int t = 0; t < PP_NTABLES; t++) {
            char *stream = pp_config_stream(c, t);
            fprintf(out, "  stream.%s: %s\n", pp_table_names[t], stream);
            free(stream);
        }
        fprintf(out,
                "  region: %s\n  endpoint: %s\n  linger: %gs\n  record_timeout: %gs\n"
                "  max_requests: %d\n",
                c->kinesis.region ? c->kinesis.region
                                  : "(AWS_REGION, AWS_DEFAULT_REGION or the endpoint host name)",
                c->kinesis.endpoint ? c->kinesis.endpoint : "(the region's public endpoint)",
                c->kinesis.linger_s, c->kinesis.record_timeout_s, c->kinesis.max_requests);
    }
    fprintf(out,
            "service:\n  instance: %s\n  shard: %d/%d\n  summary_interval: %gs\n"
            "  drain_timeout: %gs\n  report: %s\n  metrics_file: %s\n  metrics_listen: %s\n",
            c->service.instance, c->service.shard_index, c->service.shards,
            c->service.summary_interval_s, c->service.drain_timeout_s,
            c->service.report ? c->service.report : "(none)",
            c->service.metrics_file ? c->service.metrics_file : "(none)",
            c->service.metrics_listen ? c->service.metrics_listen : "(off)");
}
