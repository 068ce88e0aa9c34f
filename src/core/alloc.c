/* Wiping allocators with a size header. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "dbroker/errors.h"
#include "banned.h"

/* 16 bytes keeps the user pointer aligned for any type malloc serves. */
#define HDR 16

static atomic_size_t live_bytes;

static unsigned char *base_of(void *p)
{
	return (unsigned char *)p - HDR;
}

static size_t size_of(void *p)
{
	size_t n;

	memcpy(&n, base_of(p), sizeof(n));
	return n;
}

void *dbr_wipe_malloc(size_t n)
{
	unsigned char *b;

	if (n > SIZE_MAX - HDR)
		return NULL;
	b = malloc(n + HDR);
	if (!b)
		return NULL;
	memcpy(b, &n, sizeof(n));
	atomic_fetch_add(&live_bytes, n);
	return b + HDR;
}

void *dbr_wipe_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = dbr_wipe_malloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void dbr_wipe_free(void *p)
{
	size_t n;

	if (!p)
		return;
	n = size_of(p);
	atomic_fetch_sub(&live_bytes, n);
	explicit_bzero(base_of(p), n + HDR);
	free(base_of(p));
}

/* Never realloc in place: the old block could be released unwiped. */
void *dbr_wipe_realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (!p)
		return dbr_wipe_malloc(n);
	if (n == 0) {
		dbr_wipe_free(p);
		return NULL;
	}
	old = size_of(p);
	if (n <= old) {
		/* shrinking: wipe the tail and keep the block */
		explicit_bzero((unsigned char *)p + n, old - n);
		memcpy(base_of(p), &n, sizeof(n));
		atomic_fetch_sub(&live_bytes, old - n);
		return p;
	}
	q = dbr_wipe_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	dbr_wipe_free(p);
	return q;
}

char *dbr_wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = dbr_wipe_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return dbr_wipe_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return dbr_wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	dbr_wipe_free(p);
}

static int installed;

int dbr_alloc_install(void)
{
	cJSON_Hooks hooks = { dbr_wipe_malloc, dbr_wipe_free };

	if (installed)
		return 0;
	/* OpenSSL accepts hooks only before its first allocation. */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		return DBR_E_INTERNAL;
	cJSON_InitHooks(&hooks);
	/* libcurl gets them when it is loaded (curl_lazy.c) */
	installed = 1;
	return 0;
}

size_t dbr_alloc_live_bytes(void)
{
	return atomic_load(&live_bytes);
}
