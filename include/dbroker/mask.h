/* The masking sink: everything a human or a file can see passes through it.
 *
 * A struct dbr_mask holds the registered secrets (in secure memory) together
 * with their encodings: base64 of the secret placed at byte offsets 0, 1 and
 * 2 of a larger base64 run, URL-encoding and JSON string escaping. Text is
 * also masked by shape even when nothing was registered:
 *   - Databricks PATs: "dapi" + 32 hex digits, optionally "-" + digits;
 *   - Vault tokens: "hvs.", "hvb.", "hvr." + token characters (>= 20) and
 *     legacy "s." + 24 alphanumerics;
 *   - the value after "Authorization:" (to the end of the line) and after
 *     "Bearer " / "Basic ";
 *   - JSON string values under keys such as token, access_token,
 *     refresh_token, id_token, client_secret, secret_id, password,
 *     client_token and secret.
 * Every masked region is replaced by DBR_MASK_REPLACEMENT.
 */
#ifndef DBROKER_MASK_H
#define DBROKER_MASK_H

#include <stddef.h>
#include <sys/types.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_mask;
struct dbr_mask_stream;
struct dbr_secret;

#define DBR_MASK_REPLACEMENT "***"

/* Registered secrets shorter than this are refused (masking "abc" would
 * mangle every message and hide nothing). */
#define DBR_MASK_MIN_SECRET 8

/* Where masked output goes. Must write all len bytes; return 0 or a negative
 * DBR_E* code (the stream then reports that code). */
typedef int (*dbr_mask_sink_fn)(void *arg, const char *buf, size_t len);

/* New masker with no registered secrets (shape rules always apply).
 * Returns 0 or DBR_E_NOMEM. Free with dbr_mask_free(). */
DBR_API int dbr_mask_new(struct dbr_mask **out);

/* Wipe every stored pattern and release. NULL is a no-op. */
DBR_API void dbr_mask_free(struct dbr_mask *m);

/* Register a secret: its bytes and all encodings are masked from now on.
 * The handle is not kept (its bytes are copied into secure memory).
 * Returns 0, DBR_E_SHORT_SECRET (< DBR_MASK_MIN_SECRET bytes; nothing is
 * registered: fail closed, the caller must not use that secret), DBR_E_INVAL
 * or DBR_E_NOMEM. Registering the same secret twice is harmless. */
DBR_API int dbr_mask_add_secret(struct dbr_mask *m,
				const struct dbr_secret *secret,
				struct dbr_err *err);

/* Number of registered secrets. */
DBR_API size_t dbr_mask_count(const struct dbr_mask *m);

/* Mask a complete buffer in one go. *out is a NUL-terminated malloc'ed
 * string owned by the caller (free()); *outlen (may be NULL) its length.
 * Returns 0 or DBR_E_NOMEM. */
DBR_API int dbr_mask_buffer(const struct dbr_mask *m, const char *in,
			    size_t len, char **out, size_t *outlen);

/* Streaming masker: text written in arbitrary chunks is masked as if it had
 * been written at once. A tail that might still be the start of a secret or
 * token shape is held back until more text shows what it is, or until
 * dbr_mask_stream_flush(). The masker must outlive the stream.
 * Returns 0, DBR_E_NOMEM. */
DBR_API int dbr_mask_stream_new(const struct dbr_mask *m, dbr_mask_sink_fn sink,
				void *sink_arg, struct dbr_mask_stream **out);

/* Feed len bytes. Returns 0 or the sink's error. */
DBR_API int dbr_mask_stream_write(struct dbr_mask_stream *s, const void *buf,
				  size_t len);

/* Mask and emit everything held back (end of input). Returns 0 or the sink's
 * error. The stream stays usable. */
DBR_API int dbr_mask_stream_flush(struct dbr_mask_stream *s);

/* Flush is NOT implied: wipe held-back bytes and release. */
DBR_API void dbr_mask_stream_free(struct dbr_mask_stream *s);

#ifdef __cplusplus
}
#endif
#endif
