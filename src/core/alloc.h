/* Wiping allocators handed to OpenSSL, libcurl and cJSON. Internal.
 *
 * Each block is zeroed whole (its malloc_usable_size()) before it is given
 * back: buffers those libraries filled with a token (request headers, JSON
 * print buffers, TLS records) do not linger in freed heap memory.
 *
 * WARNING: memory from cJSON_Print*() or curl_easy_escape() must be released
 * with cJSON_free() / curl_free(), never free(): free() would not wipe it.
 */
#ifndef DBROKER_ALLOC_H
#define DBROKER_ALLOC_H

#include <stddef.h>

void *dbr_wipe_malloc(size_t n);
void *dbr_wipe_calloc(size_t nmemb, size_t size);
void *dbr_wipe_realloc(void *p, size_t n);
char *dbr_wipe_strdup(const char *s);
void dbr_wipe_free(void *p);

/* The same, in the shape OpenSSL's CRYPTO_set_mem_functions() takes:
 * crypto_lazy.c installs them right after it loads libcrypto. */
void *dbr_alloc_ossl_malloc(size_t n, const char *file, int line);
void *dbr_alloc_ossl_realloc(void *p, size_t n, const char *file, int line);
void dbr_alloc_ossl_free(void *p, const char *file, int line);

/* Install the allocators in cJSON. Returns 0. OpenSSL gets them when it is
 * loaded (crypto_lazy.c), libcurl when it is (curl_lazy.c). */
int dbr_alloc_install(void);

/* Number of blocks currently allocated through the hooks, for tests: exact
 * while one thread allocates at a time. */
size_t dbr_alloc_live_blocks(void);

#endif
