/* dbroker-layer: core */
/* Secret handles: the only container for token bytes in dbroker.
 *
 * A struct dbr_secret is opaque. Its bytes live in OpenSSL's secure heap
 * (mlock'ed, guard pages, excluded from core dumps) once dbr_secmem_init()
 * succeeded, and are wiped on free. libcrypto is loaded with the first
 * handle, not before. There is no
 * accessor that returns a copy on the normal heap: providers write bytes in,
 * and only the request signer (and the masker, to learn what to hide) read
 * them through the library-internal view.
 */
#ifndef DBROKER_SECRET_H
#define DBROKER_SECRET_H

#include <stddef.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_secret;

/* Largest secret a handle may hold. */
#define DBR_SECRET_MAX 8192

/* Default size of the secure heap arena. When it is full, new handles get
 * private mappings of their own (dbr_secmem_describe), never the ordinary
 * heap. */
#define DBR_SECMEM_DEFAULT_SIZE (256 * 1024)

/* Size the secure heap (CRYPTO_secure_malloc_init, done with the first
 * handle: libcrypto is loaded then) at arena_size (rounded up to a power of
 * two), or the largest arena RLIMIT_MEMLOCK still allows, checking now that
 * it can be locked. Idempotent. If no memory can be locked: with strict != 0 returns
 * DBR_E_SECMEM; else returns 0 (the caller warns with dbr_secmem_describe:
 * see *locked), after which handles live in private mappings excluded from
 * core dumps. *locked (may be NULL) is set to 1
 * when secrets are in locked memory. After a call with strict != 0, a
 * handle that cannot be held in locked memory later on (the arena full,
 * the limit taken by something else in the process) is refused with
 * DBR_E_SECMEM rather than held unlocked. */
DBR_API int dbr_secmem_init(size_t arena_size, int strict, int *locked,
			    struct dbr_err *err);

/* 1 when handles are (or, before the first one, will be) allocated from
 * locked secure memory. */
DBR_API int dbr_secmem_locked(void);

/* Set the secure heap up now (loading libcrypto), not with the first
 * handle: for a process that will hold secrets, such as the agent, so that
 * nothing on its request paths waits for the load. Returns 0, or
 * crypto_lazy's DBR_E_IO / DBR_E_INTERNAL with err saying why. */
DBR_API int dbr_secmem_start(struct dbr_err *err);

/* Lock the secure heap's arena again, if it is up: memory locks are not
 * inherited by fork(), so a forked child that keeps the handles calls it. */
DBR_API void dbr_secmem_relock(void);

/* One line saying how secrets are held, naming what is missing, e.g.
 * "locked (256 KiB arena, RLIMIT_MEMLOCK 8192 KiB), excluded from core
 * dumps, wiped on free" or "NOT locked (RLIMIT_MEMLOCK 0 KiB: secrets could
 * be paged to swap), excluded from core dumps, wiped on free". The arena is
 * sized to what RLIMIT_MEMLOCK allows (a power of two, at least a page);
 * without one, and once it is full, each secret gets a private mapping
 * excluded from core dumps (MADV_DONTDUMP), locked while the limit allows:
 * never the ordinary heap. Static storage, valid until the next call. */
DBR_API const char *dbr_secmem_describe(void);

/* New handle holding a copy of bytes[0..len). len must be 1..DBR_SECRET_MAX.
 * *out is set on success and owned by the caller (dbr_secret_free).
 * Returns 0, DBR_E_INVAL, DBR_E_TOO_LARGE, DBR_E_NOMEM or DBR_E_SECMEM
 * (strict, and no locked memory for it: dbr_secmem_init). */
DBR_API int dbr_secret_new(const void *bytes, size_t len,
			   struct dbr_secret **out);

/* New empty handle with room for cap bytes (1..DBR_SECRET_MAX), to be filled
 * with dbr_secret_append(). Returns 0, DBR_E_INVAL, DBR_E_NOMEM,
 * DBR_E_SECMEM. */
DBR_API int dbr_secret_alloc(size_t cap, struct dbr_secret **out);

/* New handle with a copy of s's bytes (secure memory to secure memory).
 * Returns 0, DBR_E_INVAL (s NULL or empty), DBR_E_NOMEM, DBR_E_SECMEM. */
DBR_API int dbr_secret_dup(const struct dbr_secret *s, struct dbr_secret **out);

/* Append bytes; fails with DBR_E_TOO_LARGE past the capacity (the handle is
 * left unchanged). */
DBR_API int dbr_secret_append(struct dbr_secret *s, const void *bytes,
			      size_t len);

/* Strip ASCII whitespace from both ends in place (pasted tokens often end
 * with a newline). */
DBR_API void dbr_secret_trim(struct dbr_secret *s);

/* Number of bytes held (0 for NULL). */
DBR_API size_t dbr_secret_len(const struct dbr_secret *s);

/* Constant-time equality (time depends only on the lengths). 1 if equal. */
DBR_API int dbr_secret_equal(const struct dbr_secret *a,
			     const struct dbr_secret *b);

/* Constant-time comparison with a plain buffer. 1 if equal. */
DBR_API int dbr_secret_equal_bytes(const struct dbr_secret *a,
				   const void *bytes, size_t len);

/* Non-reversible fingerprint safe to print: "sha256:" + first 8 hex digits of
 * SHA-256 over the bytes. out must hold DBR_SECRET_FP_MAX bytes. */
#define DBR_SECRET_FP_MAX 24
DBR_API int dbr_secret_fingerprint(const struct dbr_secret *s, char *out,
				   size_t outsz);

/* Short recognisable hint safe to print: a known non-secret prefix ("dapi",
 * "hvs.") followed by "…" and the last 4 characters, e.g. "dapi…3f2c"; for a
 * secret of unknown shape only "…" and the last 4 characters, or "…" when the
 * secret is shorter than 16 bytes. out must hold DBR_SECRET_HINT_MAX bytes. */
#define DBR_SECRET_HINT_MAX 24
DBR_API int dbr_secret_hint(const struct dbr_secret *s, char *out,
			    size_t outsz);

/* 1 if the bytes look like a Databricks PAT: "dapi" + 32 lowercase hex
 * digits, optionally "-" + digits. */
DBR_API int dbr_secret_is_pat_shaped(const struct dbr_secret *s);

/* 1 if the secret is one word of visible ASCII bytes or others above it: no
 * space, tab, line break or other control character anywhere (what a
 * bearer token or client secret is; trim first). 0 for NULL or empty.
 * dbr_http_perform() refuses a credential that is not. */
DBR_API int dbr_secret_is_one_word(const struct dbr_secret *s);

/* Wipe and release. NULL is a no-op. */
DBR_API void dbr_secret_free(struct dbr_secret *s);

#ifdef __cplusplus
}
#endif
#endif
