/* httpd: /metrics and /healthz over libmicrohttpd, fed by snapshots from the posting loop. */
#include "pp_httpd.h"
#include "pp_config.h"
#include "pp_log.h"
#include "pp_metrics.h"
#include "pp_util.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scrape rebuilds the body of /metrics (process and librdkafka metrics included) at most
 * this often when the loop has published nothing new. */
#define REBUILD_US 1000000
#define LISTEN_BACKLOG 64

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

/* What the loop published; freed when the last reference goes (the server's current one,
 * and a scrape building a body from it). The count is guarded by the server's mutex. */
typedef struct snap {
    int refs;
    char *text;
    size_t len;
    char *instance;
    char *kafka_stats;
    uint64_t gen;
} snap;

struct pp_httpd {
    struct MHD_Daemon *d;
    char *listen;
    /* Answers that never change, made once, queued any number of times. */
    struct MHD_Response *not_found, *not_allowed, *no_metrics;
    pthread_mutex_t mu;
    /* Guarded by mu: the loop's side. */
    snap *cur;
    uint64_t gen;
    int published; /* anything at all (health included) */
    int healthy;
    char reason[256];
    int64_t published_us;
    int stale_s; /* silence after which the loop counts as wedged (the snapshot's) */
    /* libmicrohttpd's last complaint while pp_httpd_start ran, for the error that says why
     * it could not start (written on the starting thread only). */
    char start_err[256];
    /* The HTTP thread's alone: the body of the last snapshot scraped. */
    struct MHD_Response *metrics;
    uint64_t metrics_gen;
    int64_t metrics_us;
    /* Guarded by mu: every open connection (MHD_OPTION_NOTIFY_CONNECTION); since_us is its
     * accept or its last answer. A socket is closed by libmicrohttpd only after its CLOSED
     * notification has unlinked it here, so reap() never shuts down a reused descriptor. */
    struct conn_rec *conns;
    size_t nconns;
};

typedef struct conn_rec {
    struct conn_rec *prev, *next;
    int fd;
    int64_t since_us;
} conn_rec;

/* @locality: libmicrohttpd's thread. */
static void on_conn(void *cls, struct MHD_Connection *conn, void **ctx,
                    enum MHD_ConnectionNotificationCode code)
{
    pp_httpd *h = cls;
    conn_rec *r = *ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        r = pp_xcalloc(1, sizeof(*r));
        *r = (conn_rec){.fd = ci ? (int)ci->connect_fd : -1, .since_us = pp_now_us()};
        pthread_mutex_lock(&h->mu);
        r->next = h->conns;
        if (h->conns)
            h->conns->prev = r;
        h->conns = r;
        h->nconns++;
        pthread_mutex_unlock(&h->mu);
        *ctx = r;
    } else if (r) {
        pthread_mutex_lock(&h->mu);
        if (r->prev)
            r->prev->next = r->next;
        else
            h->conns = r->next;
        if (r->next)
            r->next->prev = r->prev;
        h->nconns--;
        pthread_mutex_unlock(&h->mu);
        free(r);
        *ctx = NULL;
    }
}

/* A connection answered: its clock starts again. @locality: libmicrohttpd's thread. */
static void conn_answered(pp_httpd *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) {
        pthread_mutex_lock(&h->mu);
        ((conn_rec *)ci->socket_context)->since_us = pp_now_us();
        pthread_mutex_unlock(&h->mu);
    }
}

/* Past three quarters of the connection limit, end every connection that has had no
 * complete request for PP_HTTPD_REQUEST_S: dribbling clients cannot hold the endpoint
 * however many addresses they come from. @locality: the posting loop (publish). */
static void reap(pp_httpd *h, int64_t now)
{
    if (h->nconns < PP_HTTPD_MAX_CONNECTIONS * 3 / 4)
        return;
    for (conn_rec *r = h->conns; r; r = r->next)
        if (r->fd >= 0 && now - r->since_us > (int64_t)PP_HTTPD_REQUEST_S * 1000000)
            shutdown(r->fd, SHUT_RDWR);
}

static void snap_free(snap *s)
{
    if (!s)
        return;
    free(s->text);
    free(s->instance);
    free(s->kafka_stats);
    free(s);
}

void pp_httpd_publish(pp_httpd *h, pp_httpd_snapshot *in)
{
    snap *s = NULL, *old = NULL;
    if (!h) {
        free(in->text);
        free(in->instance);
        free(in->kafka_stats);
        return;
    }
    if (in->text) {
        s = pp_xcalloc(1, sizeof(*s));
        *s = (snap){.refs = 1,
                    .text = in->text,
                    .len = in->len,
                    .instance = in->instance ? in->instance : pp_xstrdup(""),
                    .kafka_stats = in->kafka_stats};
    } else {
        free(in->instance);
        free(in->kafka_stats);
    }
    in->text = in->instance = in->kafka_stats = NULL;
    int64_t now = pp_now_us();
    pthread_mutex_lock(&h->mu);
    if (s) {
        s->gen = ++h->gen;
        old = h->cur;
        h->cur = s;
    }
    h->published = 1;
    h->healthy = in->healthy;
    snprintf(h->reason, sizeof(h->reason), "%s", in->healthy || !in->reason ? "" : in->reason);
    h->published_us = now;
    h->stale_s = in->stale_s > 0 ? in->stale_s : PP_HTTPD_STALE_S;
    reap(h, now);
    int last = old && --old->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (last) /* else a scrape still holds it, and frees it */
        snap_free(old);
}

/* Queue r (the connection takes its own reference) with status. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO; /* out of memory: the connection is closed */
    return MHD_queue_response(conn, status, r);
}

/* A response made from text of len bytes (copied), or NULL. */
static struct MHD_Response *text_response(const char *text, size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    return r;
}

/* Answer status with a short text body (copied). */
static enum MHD_Result text_answer(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r = text_response(body, strlen(body), CONTENT_TYPE_TEXT);
    enum MHD_Result rc = answer(conn, status, r);
    if (r)
        MHD_destroy_response(r);
    return rc;
}

/* Whether the loop has been silent past its allowance (the wedged loop of /healthz and
 * /livez), with its "reported nothing" line in body. Under h->mu. */
static int stale(const pp_httpd *h, int64_t now, char *body, size_t n)
{
    if (!h->published || now - h->published_us <= (int64_t)h->stale_s * 1000000)
        return 0;
    snprintf(body, n, "the posting loop has reported nothing for %lld s\n",
             (long long)((now - h->published_us) / 1000000));
    return 1;
}

static enum MHD_Result healthz(pp_httpd *h, struct MHD_Connection *conn)
{
    char body[320];
    unsigned status = MHD_HTTP_SERVICE_UNAVAILABLE;
    pthread_mutex_lock(&h->mu);
    if (!h->published)
        snprintf(body, sizeof(body), "starting\n");
    else if (!h->healthy)
        snprintf(body, sizeof(body), "%s\n", h->reason[0] ? h->reason : "not ready");
    else if (!stale(h, pp_now_us(), body, sizeof(body))) {
        snprintf(body, sizeof(body), "ok\n");
        status = MHD_HTTP_OK;
    }
    pthread_mutex_unlock(&h->mu);
    return text_answer(conn, status, body);
}

/* Liveness, for an orchestrator's restart decision: the posting loop is alive unless it
 * published before and then nothing for its stale_s (a wedged loop, what systemd's
 * watchdog catches). Unreachable ends and the start are not reasons to restart: /healthz
 * says those. */
static enum MHD_Result livez(pp_httpd *h, struct MHD_Connection *conn)
{
    char body[160];
    unsigned status = MHD_HTTP_SERVICE_UNAVAILABLE;
    pthread_mutex_lock(&h->mu);
    if (!stale(h, pp_now_us(), body, sizeof(body))) {
        snprintf(body, sizeof(body), "alive\n");
        status = MHD_HTTP_OK;
    }
    pthread_mutex_unlock(&h->mu);
    return text_answer(conn, status, body);
}

/* The body of /metrics for snapshot s: the loop's text, then the process and librdkafka
 * metrics, rendered now. NULL when out of memory. */
static struct MHD_Response *build_metrics(const snap *s)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return NULL;
    fwrite(s->text, 1, s->len, f);
    pp_metrics_render_process(f);
    pp_metrics_render_kafka(f, s->instance, s->kafka_stats);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(body);
        return NULL;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return r;
}

static enum MHD_Result metrics(pp_httpd *h, struct MHD_Connection *conn)
{
    int64_t now = pp_now_us();
    pthread_mutex_lock(&h->mu);
    snap *s = h->cur;
    if (s && (s->gen != h->metrics_gen || !h->metrics || now - h->metrics_us >= REBUILD_US))
        s->refs++;
    else
        s = NULL; /* nothing yet, or the cached body is current */
    int none = !h->cur;
    pthread_mutex_unlock(&h->mu);
    if (none)
        return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, h->no_metrics);
    if (s) {
        struct MHD_Response *r = build_metrics(s);
        if (r) {
            if (h->metrics)
                MHD_destroy_response(h->metrics); /* queued answers keep theirs */
            h->metrics = r;
            h->metrics_gen = s->gen;
            h->metrics_us = now;
        }
        pthread_mutex_lock(&h->mu);
        int last = --s->refs == 0;
        pthread_mutex_unlock(&h->mu);
        if (last)
            snap_free(s);
    }
    return answer(conn, MHD_HTTP_OK, h->metrics);
}

/* @locality: libmicrohttpd's internal thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    static int seen;
    pp_httpd *h = cls;
    (void)version;
    (void)upload;
    /* Another method is answered as soon as its headers are in, its body never read (the
     * connection is closed after the answer). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);
    /* GET and HEAD are answered on the second call, once the request is whole, so that the
     * connection may be kept alive; a body, which they should not have, is discarded. */
    if (!*con_cls) {
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    conn_answered(h, conn);
    if (!strcmp(url, "/metrics"))
        return metrics(h, conn);
    if (!strcmp(url, "/healthz"))
        return healthz(h, conn);
    if (!strcmp(url, "/livez"))
        return livez(h, conn);
    return answer(conn, MHD_HTTP_NOT_FOUND, h->not_found);
}

/* libmicrohttpd's own complaints: while starting, kept for the error (why it could not
 * start); afterwards (a client that broke off, a request too large) at debug level, since
 * any client can cause them. @locality: the starting thread, then libmicrohttpd's. */
static _Thread_local pp_httpd *starting; /* set on the thread in pp_httpd_start */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    pp_httpd *h = cls;
    char line[512];
    if (starting != h && !pp_log_enabled(LOG_DEBUG))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (starting == h)
        pp_log_escape(line, len, h->start_err, sizeof(h->start_err));
    else
        pp_log_debug("metrics endpoint: %s", line);
}

/* Whether fd is still the socket whose identity is *st (libmicrohttpd closes the listening
 * socket itself on some of its failures, and the number may be another's by now). */
static int same_socket(int fd, const struct stat *st)
{
    struct stat now;
    return fstat(fd, &now) == 0 && S_ISSOCK(now.st_mode) && now.st_dev == st->st_dev &&
           now.st_ino == st->st_ino;
}

/* Bind and listen on host:port; returns the socket or -1 with err and *why. */
static int open_listener(const char *addr, const char *host, int port, pp_httpd_err *why, char *e,
                         size_t n)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    int g = getaddrinfo(host, ports, &hints, &ai);
    if (g != 0) {
        *why = g == EAI_AGAIN || g == EAI_MEMORY || g == EAI_SYSTEM ? PP_HTTPD_UNAVAILABLE
                                                                    : PP_HTTPD_BAD_ADDRESS;
        pp_errf(e, n, "service.metrics_listen %s: cannot resolve '%s': %s", addr, host,
                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        /* A restarted daemon may bind while the last one's connections are in TIME_WAIT;
         * another process still listening there is refused all the same. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        return fd;
    switch (err) {
    case EADDRINUSE:
        *why = PP_HTTPD_UNAVAILABLE;
        pp_errf(e, n,
                "service.metrics_listen %s: cannot listen: the port is in use (another process, "
                "or another pinpostd, listens there): stop it or choose another port",
                addr);
        break;
    case EADDRNOTAVAIL:
        *why = PP_HTTPD_BAD_ADDRESS;
        pp_errf(e, n,
                "service.metrics_listen %s: cannot listen: %s is not an address of this "
                "machine: use one of its addresses, 127.0.0.1, or 0.0.0.0 for all",
                addr, host);
        break;
    case EACCES:
        *why = PP_HTTPD_BAD_ADDRESS;
        pp_errf(e, n,
                "service.metrics_listen %s: cannot listen: permission denied (ports below "
                "1024 need CAP_NET_BIND_SERVICE): choose a port from 1024 up",
                addr);
        break;
    default:
        *why = err == EAFNOSUPPORT ? PP_HTTPD_BAD_ADDRESS : PP_HTTPD_UNAVAILABLE;
        pp_errf(e, n, "service.metrics_listen %s: cannot listen: %s", addr, strerror(err));
    }
    return -1;
}

static struct MHD_Response *fixed(const char *text, const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_TEXT);
        if (allow)
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    return r;
}

pp_httpd_err pp_httpd_start(const char *listen, pp_httpd **out, char *e, size_t n)
{
    char host[256];
    int port = 0, fd;
    pp_httpd_err why = PP_HTTPD_UNAVAILABLE;
    *out = NULL;
    if (pp_config_parse_listen(listen, host, sizeof(host), &port, e, n) != 0)
        return PP_HTTPD_BAD_ADDRESS;
    fd = open_listener(listen, host, port, &why, e, n);
    if (fd < 0)
        return why;
    pp_httpd *h = pp_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    h->listen = pp_xstrdup(listen);
    h->stale_s = PP_HTTPD_STALE_S;
    h->not_found = fixed("not found: try /metrics, /healthz or /livez\n", NULL);
    h->not_allowed = fixed("method not allowed: GET or HEAD\n", "GET, HEAD");
    h->no_metrics = fixed("no metrics yet: starting\n", NULL);
    if (!h->not_found || !h->not_allowed || !h->no_metrics) {
        close(fd);
        pp_errf(e, n, "service.metrics_listen %s: out of memory", listen);
        goto fail;
    }
    /* The server's thread inherits this mask: signals stay with the main thread, whose
     * handlers set the flags the loop acts on. */
    sigset_t all, old;
    struct stat self;
    fstat(fd, &self);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    starting = h;
    /* The logger first: libmicrohttpd reports option errors through the logger set so far
     * (before it, on stderr, unescaped). */
    h->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
                            NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                            (void *)h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)PP_HTTPD_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PP_HTTPD_MAX_CONNECTIONS,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PP_HTTPD_MAX_PER_IP,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PP_HTTPD_MEMORY,
                            MHD_OPTION_NOTIFY_CONNECTION, on_conn, (void *)h, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    starting = NULL;
    if (!h->d) {
        if (same_socket(fd, &self))
            close(fd);
        pp_errf(e, n,
                "service.metrics_listen %s: cannot start the HTTP server (libmicrohttpd): %s; "
                "a thread or file descriptor limit (ulimit -u, -n) may be too low",
                listen, h->start_err[0] ? h->start_err : "no reason given");
        goto fail;
    }
    *out = h;
    return PP_HTTPD_OK;
fail:
    pp_httpd_stop(h);
    return PP_HTTPD_UNAVAILABLE;
}

const char *pp_httpd_listen(const pp_httpd *h)
{
    return h ? h->listen : NULL;
}

void pp_httpd_stop(pp_httpd *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d); /* joins its thread and closes the listening socket */
    if (h->metrics)
        MHD_destroy_response(h->metrics);
    if (h->not_found)
        MHD_destroy_response(h->not_found);
    if (h->not_allowed)
        MHD_destroy_response(h->not_allowed);
    if (h->no_metrics)
        MHD_destroy_response(h->no_metrics);
    snap_free(h->cur); /* the server's thread, and with it every scrape, has ended */
    pthread_mutex_destroy(&h->mu);
    free(h->listen);
    free(h);
}

int pp_httpd_local_url(const char *listen, const char *path, char *url, size_t un, char *e,
                       size_t n)
{
    char host[256];
    int port = 0;
    if (pp_config_parse_listen(listen, host, sizeof(host), &port, e, n) != 0)
        return -1;
    const char *h = host;
    if (!host[0] || !strcmp(host, "0.0.0.0"))
        h = "127.0.0.1";
    else if (!strcmp(host, "::") || !strcmp(host, "0:0:0:0:0:0:0:0"))
        h = "::1";
    int v6 = strchr(h, ':') != NULL;
    if ((size_t)snprintf(url, un, "http://%s%s%s:%d%s", v6 ? "[" : "", h, v6 ? "]" : "", port,
                         path) >= un)
        return pp_errf(e, n, "service.metrics_listen %s: too long for a URL", listen), -1;
    return 0;
}
