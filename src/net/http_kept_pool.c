/* Idle kept connections of threads that ended (http_kept_pool.h).
 *
 * The proxy's threads live as long as their client's connection: a client
 * that opens a connection per request would otherwise cost a TLS handshake
 * each. The newest are kept. */
#include "http_kept_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define POOL_MAX 8

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kept pool[POOL_MAX];
static size_t pool_n;

void dbr_http_kept_close(struct kept *k)
{
	if (k->h)
		curl_easy_cleanup(k->h);
	k->h = NULL;
	k->fd = CURL_SOCKET_BAD;
	k->quiet_since = 0;
}

void dbr_http_kept_discard(struct kept *k)
{
	dbr_http_kept_close(k);
	free(k->key);
	k->key = NULL;
}

void dbr_http_kept_forget(struct kept *k)
{
	k->h = NULL;
	k->fd = CURL_SOCKET_BAD;
	k->key = NULL;
	k->quiet_since = 0;
}

void dbr_http_kept_pool_put(struct kept *k)
{
	if (!k->h) {
		free(k->key);
		k->key = NULL;
		return;
	}
	pthread_mutex_lock(&pool_mu);
	if (pool_n == POOL_MAX) {
		dbr_http_kept_discard(&pool[0]);
		memmove(&pool[0], &pool[1], (POOL_MAX - 1) * sizeof(pool[0]));
		pool_n--;
	}
	pool[pool_n++] = *k;
	pthread_mutex_unlock(&pool_mu);
	dbr_http_kept_forget(k);
}

int dbr_http_kept_pool_take(struct kept *k, const char *key)
{
	int found = 0;

	pthread_mutex_lock(&pool_mu);
	for (size_t i = pool_n; i-- > 0;) {
		if (strcmp(pool[i].key, key) != 0)
			continue;
		free(k->key);
		*k = pool[i];
		memmove(&pool[i], &pool[i + 1], (pool_n - i - 1) * sizeof(pool[0]));
		pool_n--;
		found = 1;
		break;
	}
	pthread_mutex_unlock(&pool_mu);
	return found;
}

void dbr_http_kept_pool_drain(void)
{
	pthread_mutex_lock(&pool_mu);
	while (pool_n) {
		pool_n--;
		dbr_http_kept_discard(&pool[pool_n]);
	}
	pthread_mutex_unlock(&pool_mu);
}
