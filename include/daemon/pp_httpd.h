/* pp_httpd: the HTTP endpoint of service.metrics_listen, over libmicrohttpd: GET or HEAD
 * /metrics (the Prometheus text format 0.0.4) and /healthz (200 "ok" when the daemon is
 * ready and both ends are up, else 503 with the reason), /livez (200 "alive" unless the
 * posting loop published before and then nothing for the snapshot's stale_s: an orchestrator's
 * liveness probe, which an unreachable database or broker must not fail); 404 for any other
 * path, 405 for any other method.
 *
 * Threads: libmicrohttpd serves every connection on one internal thread of its own (epoll),
 * with all signals blocked. That thread never touches the runner's state: the posting loop
 * hands it a snapshot (pp_httpd_publish, at most about once a second, plus a health change
 * at once), and the mutex between them is held only to swap pointers or copy a short
 * reason. The HTTP thread turns a snapshot into the body of /metrics the first time it is
 * scraped (the loop's own counters, rendered by the loop with pp_metrics_render, then the
 * process_* metrics and librdkafka's health from its statistics JSON, rendered here) and
 * answers every scrape of that snapshot with the same response object.
 *
 * Slow and hostile clients: a connection idle for PP_HTTPD_TIMEOUT_S is closed; at most
 * PP_HTTPD_MAX_CONNECTIONS connections, PP_HTTPD_MAX_PER_IP of them from one address (more
 * are closed as they are accepted), PP_HTTPD_MEMORY bytes each (a request line or headers
 * beyond it get 414 or 431); when the connections run short, those without a complete
 * request for PP_HTTPD_REQUEST_S are ended (PP_HTTPD_REQUEST_S). Stopping wakes the server's
 * thread at once, whatever its connections do. */
#ifndef PP_HTTPD_H
#define PP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define PP_HTTPD_TIMEOUT_S 10
/* 64 addresses dribbling requests together are needed to hold every connection (a scraper
 * and the kubelet's probes use one or two each); 256 leaves most of a container's 1024
 * descriptors to the brokers and the database. */
#define PP_HTTPD_MAX_CONNECTIONS 256
#define PP_HTTPD_MAX_PER_IP 4
#define PP_HTTPD_MEMORY (32 * 1024)
/* Past three quarters of PP_HTTPD_MAX_CONNECTIONS, a connection with no complete request for
 * this long is ended (checked at each snapshot, about once a second): clients that dribble
 * their requests cannot hold the endpoint however many addresses they come from. */
#define PP_HTTPD_REQUEST_S 5
/* /healthz and /livez say 503 when the loop has published nothing for this long (a wedged
 * loop), unless the snapshot says longer (a database call may block the loop longer). */
#define PP_HTTPD_STALE_S 30

typedef struct pp_httpd pp_httpd;

/* Why pp_httpd_start failed: the exit status follows from it. */
typedef enum pp_httpd_err {
    PP_HTTPD_OK,
    PP_HTTPD_BAD_ADDRESS, /* unresolvable host, not an address of this machine, a port this
                           * user may not bind: a configuration error (exit 78) */
    PP_HTTPD_UNAVAILABLE  /* the port is in use, or the server could not start: a runtime
                           * error (exit 1); restarting later may succeed */
} pp_httpd_err;

/* Bind listen ("HOST:PORT" or "[V6]:PORT", as service.metrics_listen) and start serving;
 * until the first pp_httpd_publish, /healthz answers 503 "starting" and /metrics 503.
 * On success *out is the server (stop it with pp_httpd_stop). Otherwise *out is NULL and
 * errstr says what failed ("service.metrics_listen 127.0.0.1:9464: cannot listen:
 * Address already in use ..."). */
pp_httpd_err pp_httpd_start(const char *listen, pp_httpd **out, char *errstr, size_t errstr_size);

/* The address the server was started with (as given to pp_httpd_start). */
const char *pp_httpd_listen(const pp_httpd *h);

/* What the loop hands over. Every pointer is taken (freed with free(3) by the server, also
 * when h is NULL); NULL text means "no new metrics, health only". */
typedef struct pp_httpd_snapshot {
    char *text;         /* the loop's metrics (pp_metrics_render), NUL-terminated */
    size_t len;         /* strlen(text) */
    char *instance;     /* service.instance, for the librdkafka metrics' label */
    char *kafka_stats;  /* librdkafka's latest statistics JSON, or NULL */
    int healthy;        /* ready, source and sink up */
    const char *reason; /* when not healthy: why (copied, cut at 255 bytes) */
    int stale_s;        /* silence after which the loop counts as wedged; 0: PP_HTTPD_STALE_S */
} pp_httpd_snapshot;

/* Hand over a snapshot (taking its pointers). Never blocks on the HTTP thread for longer
 * than a pointer swap and a copy of the reason. NULL h: only frees the snapshot's pointers.
 * @locality: the posting loop (one publisher). */
void pp_httpd_publish(pp_httpd *h, pp_httpd_snapshot *snap);

/* Stop serving (connections are closed), free everything. NULL is fine. */
void pp_httpd_stop(pp_httpd *h);

/* The URL of path ("/healthz") on the server of listen, as a local client reaches it: a
 * wildcard host (0.0.0.0, ::, empty) becomes the loopback address of its family, an IPv6
 * address gets its brackets. Returns 0, or -1 with errstr (listen malformed). */
int pp_httpd_local_url(const char *listen, const char *path, char *url, size_t url_size,
                       char *errstr, size_t errstr_size);

#endif
