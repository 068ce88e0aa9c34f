/* dbroker-layer: core */
/* The masking sink: everything a human or a file can see passes through it.
 *
 * A struct dbr_mask holds the registered secrets (in secure memory) together
 * with their encodings: base64 of the secret placed at byte offsets 0, 1 and
 * 2 of a larger base64 run (standard and URL-safe alphabets; only the
 * characters that depend on the secret alone), URL-encoding (upper- and
 * lower-case hex, '+' for space) and JSON string escaping (with and without
 * "\/", lower- and upper-case \u00XX). Text is also masked by shape even
 * when nothing was registered:
 *   - Databricks PATs: "dapi" + 32 hex digits (either case), and the token
 *     characters [A-Za-z0-9_-] that follow ("-2");
 *   - Vault tokens: "hvs.", "hvb.", "hvr." + >= 20 of [A-Za-z0-9_-], and
 *     legacy "s." + >= 24 alphanumerics when the byte before "s" is not
 *     alphanumeric ("items.Foo" stays); the whole run is masked, across
 *     single dots between token characters (namespaced tokens) but not a
 *     trailing full stop;
 *   - the value after "Authorization:" (any case, also Proxy-Authorization),
 *     after up to 128 blanks, to the end of the line;
 *   - after "Bearer" / "Basic" (any case) and 1..128 blanks: a run of at
 *     least 8 of [A-Za-z0-9-._~+/=], unless it looks like an English word (a
 *     letter then only lower-case letters, fewer than 20), so "Bearer tokens
 *     expire" and "Basic authentication" stay readable;
 *   - JSON string values under the keys token, access_token, refresh_token,
 *     id_token, client_token, secret, client_secret, secret_id, password,
 *     passwd, api_key, apikey, authorization (any case): "key", up to 128
 *     bytes of JSON whitespace, ':', up to 128 more, then a string whose
 *     content up to the closing unescaped quote (or the end of the line) is
 *     masked; the quotes stay.
 * Every masked region is replaced by DBR_MASK_REPLACEMENT; overlapping and
 * adjacent regions become one: "Authorization: ***", "Bearer ***",
 * "\"token\": \"***\"".
 *
 * Not covered: secrets cut by a flush, other escapings (\uXXXX of non-ASCII
 * bytes, mixed-case %xx, JSON inside a JSON string), key names spelled
 * otherwise ("my_token").
 *
 * A masker may be used by several threads at once as long as no secret is
 * being registered at the same time; a stream belongs to one thread.
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

/* The length of the longest registered secret or encoding, 0 with none:
 * a text read in pieces holds no secret across a cut that
 * dbr_mask_has_secret() would not see, when each look takes in the last
 * (that length - 1) bytes of the one before. */
DBR_API size_t dbr_mask_longest(const struct dbr_mask *m);

/* 1 when text holds one of the registered secrets or one of their
 * encodings (the shape rules play no part), else 0; 1 also when it cannot
 * tell (out of memory). For a holder of secrets deciding whether an answer
 * may leave it at all. */
DBR_API int dbr_mask_has_secret(const struct dbr_mask *m, const void *text, size_t len);

/* Mask a complete buffer in one go. *out is a NUL-terminated malloc'ed
 * string owned by the caller (free()); *outlen (may be NULL) its length.
 * Returns 0, DBR_E_INVAL or DBR_E_NOMEM. */
DBR_API int dbr_mask_buffer(const struct dbr_mask *m, const char *in,
			    size_t len, char **out, size_t *outlen);

/* Streaming masker: text written in arbitrary chunks is masked exactly as
 * dbr_mask_buffer() would mask it written at once. The stream holds back
 * only the last H bytes, H = max(about 320, longest registered encoding +
 * 72): every rule decides within that distance. A region without a fixed
 * length (an Authorization line, a JSON string, a token run) is not held
 * back: once it starts, "***" is written and the region is swallowed up to
 * its end however long it gets, so memory stays bounded and no byte of it
 * is ever emitted. Held-back bytes sit in a buffer that is wiped when freed.
 * The masker must outlive the stream; secrets registered meanwhile apply to
 * what has not been emitted yet. Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
DBR_API int dbr_mask_stream_new(const struct dbr_mask *m, dbr_mask_sink_fn sink,
				void *sink_arg, struct dbr_mask_stream **out);

/* Feed len bytes. Returns 0, DBR_E_NOMEM or the sink's error; after an
 * error the stream keeps returning it. */
DBR_API int dbr_mask_stream_write(struct dbr_mask_stream *s, const void *buf,
				  size_t len);

/* Mask and emit everything held back as the end of the input (a region
 * still open ends here). Returns 0 or the error. The stream stays usable and
 * starts over: what comes next is a new input (a secret cut by a flush is
 * not recognised). */
DBR_API int dbr_mask_stream_flush(struct dbr_mask_stream *s);

/* A pause in the input (nothing more for a while; an interactive program
 * waiting at a prompt): mask and emit everything held back, as flush does,
 * but the input goes on afterwards as the same input. A secret or region
 * that continues after the pause is masked from where it continues (what
 * was written before the pause stays written: "***" covers the rest), and a
 * held-back tail that is the first 8 or more bytes of a registered secret
 * or encoding (not all of it) is masked at once, so a pause shows at most 7
 * bytes of the start of a secret. Returns 0 or the error. */
DBR_API int dbr_mask_stream_pause(struct dbr_mask_stream *s);

/* Flush is NOT implied: wipe held-back bytes and release. */
DBR_API void dbr_mask_stream_free(struct dbr_mask_stream *s);

#ifdef __cplusplus
}
#endif
#endif
