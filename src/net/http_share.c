/* One connection cache for the whole process, and one easy handle kept
 * per thread (http_internal.h).
 *
 * Every request shares libcurl's connection cache, TLS sessions and DNS
 * answers, so a command's requests (clusters create and every poll, Vault's
 * preflight and read) reuse one TLS connection while the server keeps it
 * open. libcurl reuses a connection only for the same scheme, host, port
 * and TLS settings (CA, client certificate, server name), so a request
 * never rides a connection set up with weaker checks. Credentials are per
 * request (a header), never per connection.
 */
#include <pthread.h>

#include <curl/curl.h>

#include "http_internal.h"
#include "runtime_internal.h"
#include "banned.h"

static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
static CURLSH *share;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h;
	(void)access;
	(void)arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	(void)arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&locks[data]);
}

/* Runs before libcurl's own global cleanup (hooks run newest first). */
static void share_release(void)
{
	if (share && curl_share_cleanup(share) == CURLSHE_OK)
		share = NULL;
}

static void share_create(void)
{
	CURLSH *sh;

	for (unsigned i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&locks[i], NULL);
	sh = curl_share_init();
	if (!sh)
		return;
	if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    dbr_runtime_on_cleanup(share_release)) {
		curl_share_cleanup(sh);
		return;
	}
	share = sh;
}

CURLSH *dbr_http_share(void)
{
	pthread_once(&share_once, share_create);
	return share;
}

/* ---- the thread's kept easy handle ------------------------------------------------ */

/* A thread that makes request after request (the exec proxy's workers, a
 * command's polls) keeps its easy handle: libcurl's per-handle setup (its
 * internal multi handle with a socket pair, buffers, the CA store it
 * caches) is then paid once per thread instead of once per request. A
 * thread's handle is cleaned up when the thread ends, and the main
 * thread's by dbr_runtime_cleanup(), before the share it is attached to. */
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static pthread_key_t kept_key;
static int kept_ready;

static void kept_destroy(void *h)
{
	curl_easy_cleanup(h);
}

/* The calling thread's handle (the main thread's, at dbr_runtime_cleanup()). */
static void kept_release(void)
{
	CURL *h;

	if (!kept_ready || !(h = pthread_getspecific(kept_key)))
		return;
	pthread_setspecific(kept_key, NULL);
	curl_easy_cleanup(h);
}

/* Registered after share_release(): hooks run newest first, so the main
 * thread's handle is cleaned up before the share it is attached to. */
static void kept_create(void)
{
	kept_ready = pthread_key_create(&kept_key, kept_destroy) == 0 &&
		     dbr_runtime_on_cleanup(kept_release) == 0;
}

CURL *dbr_http_handle_take(void)
{
	CURL *h;

	(void)dbr_http_share(); /* its hook first: see kept_create() */
	pthread_once(&kept_once, kept_create);
	if (kept_ready && (h = pthread_getspecific(kept_key))) {
		pthread_setspecific(kept_key, NULL);
		/* every option back to libcurl's default: nothing of the last
		 * request's settings carries over */
		curl_easy_reset(h);
		return h;
	}
	return curl_easy_init();
}

void dbr_http_handle_give(CURL *h, int keep)
{
	if (!h)
		return;
	if (keep && kept_ready && !pthread_getspecific(kept_key) &&
	    pthread_setspecific(kept_key, h) == 0)
		return;
	curl_easy_cleanup(h);
}
