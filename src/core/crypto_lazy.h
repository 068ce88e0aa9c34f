/* libcrypto, loaded on first use. Internal to libdbroker's core.
 *
 * Neither libdbroker nor the dbroker executable links libcrypto: a client
 * going through the agent holds no secret and never needs it (1.4 MiB of
 * its memory). dbr_crypto_load() dlopens the library and, before anything
 * else can call into it, installs the wiping allocators (alloc.c):
 * OpenSSL takes them only before its first allocation. Whatever loads
 * libcrypto later (libcurl through libssl, a plugin) gets this same,
 * already hooked, copy: the loader maps a soname once. So every path that
 * may bring in libcrypto calls dbr_crypto_load() first: the secure heap
 * (secret_heap.c), the curl loader, the plugin loader. */
#ifndef DBROKER_CRYPTO_LAZY_H
#define DBROKER_CRYPTO_LAZY_H

#include <stddef.h>

#include "dbroker/errors.h"

/* Load libcrypto and install the allocators (once; thread-safe). Returns 0,
 * DBR_E_IO (not installed: err says what to install) or DBR_E_INTERNAL
 * (OpenSSL allocated before dbroker could hook it). */
int dbr_crypto_load(struct dbr_err *err);

/* 1 once dbr_crypto_load() succeeded in this process. */
int dbr_crypto_loaded(void);

/* OpenSSL's secure heap (CRYPTO_secure_malloc_*). Each loads libcrypto
 * first; when it cannot be loaded they fail as OpenSSL would without an
 * arena (init 0, zalloc NULL, initialized/allocated 0). */
int dbr_crypto_secure_init(size_t size, size_t minsize);
void dbr_crypto_secure_done(void);
int dbr_crypto_secure_initialized(void);
void *dbr_crypto_secure_zalloc(size_t n);
int dbr_crypto_secure_allocated(const void *p);
void dbr_crypto_secure_clear_free(void *p, size_t n);
/* OPENSSL_clear_free: a block OpenSSL gave from its ordinary heap */
void dbr_crypto_clear_free(void *p, size_t n);

/* SHA-256 of p[0..n) into md. Returns 0, or a DBR_E* code (libcrypto
 * missing or failing). The digest state is wiped. */
#define DBR_SHA256_LEN 32
int dbr_crypto_sha256(const void *p, size_t n, unsigned char md[DBR_SHA256_LEN]);

#endif
