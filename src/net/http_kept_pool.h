/* A kept upstream connection (http_kept.c) and the pool that keeps those of
 * threads that ended (http_kept_pool.c). Internal to libdbroker's net
 * layer. */
#ifndef DBROKER_HTTP_KEPT_POOL_H
#define DBROKER_HTTP_KEPT_POOL_H

#include <curl/curl.h>

struct kept {
	CURL *h;              /* CONNECT_ONLY handle, or NULL: none */
	curl_socket_t fd;
	char *key;            /* origin and TLS settings it was opened with; owned */
	long quiet_since;     /* dbr_mono_ms() when its last answer ended, 0: never */
};

/* Close k's connection (its key stays with k). */
void dbr_http_kept_close(struct kept *k);

/* Close k's connection and free its key: k is left empty. */
void dbr_http_kept_discard(struct kept *k);

/* k's connection went elsewhere (the pool, a body): k is left empty,
 * nothing closed or freed. */
void dbr_http_kept_forget(struct kept *k);

/* k's connection to the pool (the oldest there closed when it is full), or
 * its key freed when it has none; k is left empty. */
void dbr_http_kept_pool_put(struct kept *k);

/* A pooled connection made with key into k (empty, or holding only a key,
 * which is freed): 1, else 0. */
int dbr_http_kept_pool_take(struct kept *k, const char *key);

/* Close every pooled connection (at the runtime's cleanup). */
void dbr_http_kept_pool_drain(void);

#endif
