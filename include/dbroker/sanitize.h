/* dbroker-layer: core */
/* Text from the network, made safe to print: the one sanitizer.
 *
 * A server (or anyone on its path) controls state messages, error messages,
 * user names and raw bodies. Printed as they are, ESC/CSI/OSC sequences
 * rewrite the terminal (move the cursor, set the title, hide lines), CR and
 * LF forge log lines, and bidirectional overrides reorder what is read.
 * Everything from the network that is printed as text goes through
 * dbr_sanitize() after the masker (mask first, then sanitize, then cut).
 *
 * Escapes, as the reader would type them:
 *   - C0 controls and DEL: "\x1b", "\x07", "\x7f" (TAB and LF kept in
 *     DBR_SANITIZE_TEXT, "\t" and "\n" in DBR_SANITIZE_LINE; CR is always
 *     "\r", since it rewrites the line it is on);
 *   - C1 controls U+0080..U+009F (an 8-bit CSI is U+009B): "\u009b";
 *   - bidirectional embeddings, overrides and isolates U+202A..U+202E,
 *     U+2066..U+2069, and the line/paragraph separators U+2028, U+2029:
 *     "\u202e";
 *   - a byte that is not part of valid UTF-8: "\xff".
 * DBR_SANITIZE_JSON is for JSON text (the printer already escaped C0 inside
 * strings; these characters can only occur inside strings): C1, DEL, bidi
 * and separators become "\u00XX"/"\u202e", invalid bytes "\ufffd", so the
 * result is the same JSON value, still valid.
 */
#ifndef DBROKER_SANITIZE_H
#define DBROKER_SANITIZE_H

#include <stddef.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dbr_sanitize_mode {
	DBR_SANITIZE_TEXT = 0, /* several lines: LF and TAB kept */
	DBR_SANITIZE_LINE = 1, /* one field on one line: LF, CR, TAB escaped too */
	DBR_SANITIZE_JSON = 2, /* JSON text (see above) */
};

/* Escape in[0..len) into a new NUL-terminated string *out (malloc'ed, the
 * caller frees; *outlen may be NULL). max > 0 caps the result at max bytes:
 * the cut is made with dbr_text_cut_len() (dbroker/text.h) on the escaped text (never inside
 * an escape, a character or a run of token characters) and "..." is
 * appended within the max. Returns 0, DBR_E_INVAL or DBR_E_NOMEM. */
DBR_API int dbr_sanitize(const char *in, size_t len, enum dbr_sanitize_mode mode,
			 size_t max, char **out, size_t *outlen);

struct dbr_mask;

/* The order every printer uses: mask with m (dbr_mask_buffer), then escape
 * and cap (dbr_sanitize). The masked intermediate copy is wiped. Same
 * returns and ownership as dbr_sanitize(). */
DBR_API int dbr_sanitize_masked(const struct dbr_mask *m, const char *in, size_t len,
				enum dbr_sanitize_mode mode, size_t max, char **out,
				size_t *outlen);

/* 1 if dbr_sanitize() would change nothing (no cap). */
DBR_API int dbr_sanitize_clean(const char *in, size_t len, enum dbr_sanitize_mode mode);

/* 1 if the code point is one the sanitizer escapes in every mode (C0 other
 * than TAB/LF, DEL, C1, bidi controls, line/paragraph separators). For
 * parsers that turn such characters into something else themselves. */
DBR_API int dbr_sanitize_unsafe_cp(unsigned cp);

#ifdef __cplusplus
}
#endif
#endif
