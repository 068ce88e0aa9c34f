/* libcrypto, loaded on first use: see crypto_lazy.h. */
#include "crypto_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but
 * the first EVP digest initialises the provider machinery and reads
 * openssl.cnf: ~2.5 ms, the largest cost of a resolution that makes no
 * request. The low-level calls run the same implementation without it,
 * with the state on our stack, where it is wiped. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "alloc.h"
#include "dbroker/bytes.h"
#include "dl_load.h"
#include "banned.h"

/* The ABI soname of the OpenSSL dbroker was built against (CMake). */
#ifndef DBR_CRYPTO_SONAME
#define DBR_CRYPTO_SONAME "libcrypto.so.3"
#endif

typedef void *(*ossl_malloc_fn)(size_t, const char *, int);
typedef void *(*ossl_realloc_fn)(void *, size_t, const char *, int);
typedef void (*ossl_free_fn)(void *, const char *, int);

/* Every libcrypto function the library uses: name, return type, parameters. */
#define DBR_CRYPTO_FUNCS(X)                                                          \
	X(CRYPTO_set_mem_functions, int, (ossl_malloc_fn, ossl_realloc_fn, ossl_free_fn)) \
	X(CRYPTO_secure_malloc_init, int, (size_t, size_t))                          \
	X(CRYPTO_secure_malloc_done, int, (void))                                    \
	X(CRYPTO_secure_malloc_initialized, int, (void))                             \
	X(CRYPTO_secure_zalloc, void *, (size_t, const char *, int))                 \
	X(CRYPTO_secure_allocated, int, (const void *))                              \
	X(CRYPTO_secure_clear_free, void, (void *, size_t, const char *, int))       \
	X(CRYPTO_clear_free, void, (void *, size_t, const char *, int))              \
	X(SHA256_Init, int, (SHA256_CTX *))                                          \
	X(SHA256_Update, int, (SHA256_CTX *, const void *, size_t))                  \
	X(SHA256_Final, int, (unsigned char *, SHA256_CTX *))

#define DBR_CRYPTO_PTR(name, ret, args) ret(*name) args;
static struct {
	DBR_CRYPTO_FUNCS(DBR_CRYPTO_PTR)
} fn;
#undef DBR_CRYPTO_PTR

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = DBR_E_IO; /* written once, inside load_once */
static char load_msg[400];

#define DBR_CRYPTO_NAME(name, ret, args) #name,
static const char *const names[] = { DBR_CRYPTO_FUNCS(DBR_CRYPTO_NAME) };
#undef DBR_CRYPTO_NAME

static void load(void)
{
	static const struct dbr_dl_lib lib = {
		DBR_CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL,
		"install OpenSSL 3 (Debian: apt-get install libssl3)", "dbroker needs OpenSSL 3"
	};

	/* never half-loaded: every forwarder checks load_rc first */
	if (dbr_dl_load(&lib, names, sizeof(names) / sizeof(names[0]), &fn, sizeof(fn), load_msg,
			sizeof(load_msg)))
		return;
	/* first, before anything calls into OpenSSL: it takes the hooks only
	 * before its first allocation */
	if (!fn.CRYPTO_set_mem_functions(dbr_alloc_ossl_malloc, dbr_alloc_ossl_realloc,
					 dbr_alloc_ossl_free)) {
		snprintf(load_msg, sizeof(load_msg),
			 "cannot install wiping allocators: OpenSSL was used before dbroker "
			 "loaded it");
		memset(&fn, 0, sizeof(fn));
		load_rc = DBR_E_INTERNAL;
		return;
	}
	load_rc = 0;
}

static int ready(void)
{
	pthread_once(&load_once, load);
	return load_rc == 0;
}

int dbr_crypto_load(struct dbr_err *err)
{
	if (ready())
		return 0;
	return dbr_err_set(err, load_rc, "%s", load_msg);
}

int dbr_crypto_loaded(void)
{
	return load_rc == 0;
}

int dbr_crypto_secure_init(size_t size, size_t minsize)
{
	return ready() ? fn.CRYPTO_secure_malloc_init(size, minsize) : 0;
}

void dbr_crypto_secure_done(void)
{
	if (ready())
		(void)fn.CRYPTO_secure_malloc_done();
}

int dbr_crypto_secure_initialized(void)
{
	/* never loads: nothing is initialised in a library not loaded */
	return load_rc == 0 && fn.CRYPTO_secure_malloc_initialized();
}

void *dbr_crypto_secure_zalloc(size_t n)
{
	return ready() ? fn.CRYPTO_secure_zalloc(n, __FILE__, __LINE__) : NULL;
}

int dbr_crypto_secure_allocated(const void *p)
{
	return load_rc == 0 && fn.CRYPTO_secure_allocated(p);
}

void dbr_crypto_secure_clear_free(void *p, size_t n)
{
	if (p && load_rc == 0)
		fn.CRYPTO_secure_clear_free(p, n, __FILE__, __LINE__);
}

void dbr_crypto_clear_free(void *p, size_t n)
{
	if (p && load_rc == 0)
		fn.CRYPTO_clear_free(p, n, __FILE__, __LINE__);
}

int dbr_crypto_sha256(const void *p, size_t n, unsigned char md[DBR_SHA256_LEN])
{
	SHA256_CTX ctx;
	int ok;

	if (!ready())
		return load_rc;
	ok = fn.SHA256_Init(&ctx) && fn.SHA256_Update(&ctx, p, n) && fn.SHA256_Final(md, &ctx);
	dbr_wipe(&ctx, sizeof(ctx)); /* its block buffer held the input */
	return ok ? 0 : DBR_E_INTERNAL;
}
