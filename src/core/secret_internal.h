/* Library-internal view of secret bytes.
 *
 * WARNING: only the request signer (http.c), the masker (mask.c, to learn
 * what to hide), host.c (secret_bytes: a plugin's own store() only), the
 * exec launcher (serve/child.c: DATABRICKS_TOKEN for the child) and
 * api/tokens.c ('tokens create --print', to a pipe only) may include this
 * header. Anything else that reads token bytes
 * breaks dbroker's one rule. The pointer stays inside secure memory; never
 * copy it to the normal heap, a log or a file.
 */
#ifndef DBROKER_SECRET_INTERNAL_H
#define DBROKER_SECRET_INTERNAL_H

#include <stddef.h>

struct dbr_secret;

/* The bytes (len = dbr_secret_len()), followed by a NUL terminator that is
 * not counted; NULL for a NULL handle. Valid until the handle changes or is
 * freed. */
const unsigned char *dbr_secret_bytes(const struct dbr_secret *s);

#endif
