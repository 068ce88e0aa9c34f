/* Wiping allocators: every block is zeroed whole before it is freed. */
#include "alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dbroker/errors.h"
#include "banned.h"

/* malloc_usable_size() gives the size to wipe, so blocks carry no header
 * (a 16-byte one made OpenSSL's many small blocks half again as big, and
 * the extra heap pages cost page faults). The count of live blocks is a
 * relaxed load and store, not a locked add, which on every malloc and free
 * cost more than the wiping itself: two threads allocating at the same
 * moment may lose an update, and only the tests read it. */
static atomic_size_t live_blocks;

static void count(size_t add, size_t sub)
{
	size_t v = atomic_load_explicit(&live_blocks, memory_order_relaxed);

	atomic_store_explicit(&live_blocks, v + add - sub, memory_order_relaxed);
}

void *dbr_wipe_malloc(size_t n)
{
	void *p = malloc(n);

	if (p)
		count(1, 0);
	return p;
}

void *dbr_wipe_calloc(size_t nmemb, size_t size)
{
	void *p;

	/* checked here too: a sanitizer's calloc aborts on the overflow */
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	/* calloc() knows when fresh pages are zero already */
	p = calloc(nmemb, size);
	if (p)
		count(1, 0);
	return p;
}

/* Blocks this big get their whole pages discarded instead of zeroed. */
#define WIPE_DISCARD_MIN (32 * 1024)

/* Zero p[0..n). In a large block the whole pages are discarded
 * (MADV_DONTNEED: they read as zero from then on, and their frames go back
 * to the kernel): zeroing them would first fault in every page the block
 * never used, such as most of libcurl's 64 KiB upload buffer, which holds
 * one request. The partial pages at either end are zeroed as usual. */
static void wipe(unsigned char *p, size_t n)
{
	uintptr_t pg, a, b;

	if (n >= WIPE_DISCARD_MIN) {
		pg = (uintptr_t)sysconf(_SC_PAGESIZE);
		a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
		b = ((uintptr_t)p + n) & ~(pg - 1);
		if (b > a && madvise((void *)a, b - a, MADV_DONTNEED) == 0) {
			explicit_bzero(p, a - (uintptr_t)p);
			explicit_bzero((void *)b, (uintptr_t)p + n - b);
			return;
		}
	}
	explicit_bzero(p, n);
}

void dbr_wipe_free(void *p)
{
	if (!p)
		return;
	count(0, 1);
	wipe(p, malloc_usable_size(p));
	free(p);
}

/* Never realloc() across blocks: the old block could be released unwiped.
 * A block that already has room keeps its place. */
void *dbr_wipe_realloc(void *p, size_t n)
{
	void *q;
	size_t have;

	if (!p)
		return dbr_wipe_malloc(n);
	if (n == 0) {
		dbr_wipe_free(p);
		return NULL;
	}
	have = malloc_usable_size(p);
	if (n <= have) {
		/* shrinking: what was cut off reads as zero, as before */
		wipe((unsigned char *)p + n, have - n);
		return p;
	}
	q = dbr_wipe_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, have);
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

void *dbr_alloc_ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return dbr_wipe_malloc(n);
}

void *dbr_alloc_ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return dbr_wipe_realloc(p, n);
}

void dbr_alloc_ossl_free(void *p, const char *file, int line)
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
	cJSON_InitHooks(&hooks);
	/* libcrypto and libcurl get them when they are loaded (crypto_lazy.c,
	 * curl_lazy.c) */
	installed = 1;
	return 0;
}

size_t dbr_alloc_live_blocks(void)
{
	return atomic_load_explicit(&live_blocks, memory_order_relaxed);
}
