/* dbroker-layer: core */
/* Cutting text to a length: the one cut every layer uses, so that a limit
 * never leaves the first part of a secret behind (a token cut short is no
 * longer recognised by the masker). Mask first, then cut. */
#ifndef DBROKER_TEXT_H
#define DBROKER_TEXT_H

#include <stddef.h>

#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decode the UTF-8 character at s (n > 0 bytes available): its length
 * (1..4) with *cp set, or 0 when the bytes are not valid UTF-8 (overlong
 * forms, surrogates and values past U+10FFFF are not; *cp is untouched). */
DBR_API size_t dbr_utf8_decode(const unsigned char *s, size_t n, unsigned *cp);

/* Where to cut s[0..len) to keep at most max bytes: at a UTF-8 character
 * boundary, and never inside a secret-like run of token characters
 * ([A-Za-z0-9] and "-._~+/=", at least 8, with a digit or both cases): a
 * run the cut would split is dropped whole, so a secret cut short (which no
 * masker can recognise any more) never shows its first part. Returns len
 * when it fits. Cut only masked text, or text that is about to be masked
 * anyway: this is the last line of defence, not a masker. */
DBR_API size_t dbr_text_cut_len(const char *s, size_t len, size_t max);

#ifdef __cplusplus
}
#endif
#endif
