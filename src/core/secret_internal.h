/* Library-internal view of secret bytes.
 *
 * WARNING: only the request signer (http.c), the masker (mask.c, to learn
 * what to hide; mask_encode.c, for a PAT's shape), host.c (secret_bytes: a
 * plugin's own store() only; secret_fill: a provider writing a handle in
 * place), the exec launcher (serve/child.c: DATABRICKS_TOKEN for the child)
 * and api/tokens.c ('tokens create --print', to a pipe only) may include
 * this header. Anything else that reads token bytes breaks dbroker's one
 * rule. The pointer stays inside secure memory; never copy it to the normal
 * heap, a log or a file.
 */
#ifndef DBROKER_SECRET_INTERNAL_H
#define DBROKER_SECRET_INTERNAL_H

#include <stddef.h>

struct dbr_secret;

/* The bytes (len = dbr_secret_len()), followed by a NUL terminator that is
 * not counted; NULL for a NULL handle. Valid until the handle changes or is
 * freed. */
const unsigned char *dbr_secret_bytes(const struct dbr_secret *s);

/* A new handle of capacity cap (1..DBR_SECRET_MAX) whose bytes fill()
 * writes in place: fill(ctx, buf, cap, &len) returns 0 with len <= cap, or
 * a DBR_E* code. Returns 0 with *out set (caller frees), DBR_E_INVAL,
 * DBR_E_TOO_LARGE, DBR_E_NOMEM, DBR_E_INTERNAL (len > cap) or fill's code;
 * on failure the memory is wiped and *out is NULL. For host.c's
 * secret_fill service: the kernel keyring reads a token without a copy. */
int dbr_secret_fill(size_t cap,
		    int (*fill)(void *ctx, unsigned char *buf, size_t cap, size_t *len),
		    void *ctx, struct dbr_secret **out);

/* dbr_secret_is_pat_shaped() on bytes: for the masker, which sees a
 * secret's bytes, not its handle. */
int dbr_secret_bytes_pat_shaped(const unsigned char *b, size_t n);

/* The test behind dbr_secret_is_one_word(), on bytes, for the request
 * signer to name what it refuses: the index of the first space, tab, line
 * break or other control character (a byte <= 0x20, or 0x7f) in b[0..n),
 * or n when there is none. */
size_t dbr_secret_bytes_word_end(const unsigned char *b, size_t n);

#endif
