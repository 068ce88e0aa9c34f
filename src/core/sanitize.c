/* The one sanitizer for text from the network (dbroker/sanitize.h). */
#include "dbroker/sanitize.h"
#include "dbroker/mask.h"
#include "dbroker/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* the largest input escaped (the output may be ESCAPE_MAX times larger) */
#define SANITIZE_MAX_IN (64u * 1024 * 1024)
/* the most one input byte grows to: "\\ufffd" for an invalid byte in JSON */
#define ESCAPE_MAX 6
#define ELLIPSIS "..."

int dbr_sanitize_unsafe_cp(unsigned cp)
{
	return (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F ||
	       (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

/* The escape for cp (len bytes at s), or NULL to copy it as it is. */
static const char *escape_of(unsigned cp, size_t len, enum dbr_sanitize_mode mode, char *tmp,
			     size_t cap)
{
	if (len == 0) /* an invalid byte; cp holds it */
		snprintf(tmp, cap, mode == DBR_SANITIZE_JSON ? "\\ufffd" : "\\x%02x", cp);
	else if (mode == DBR_SANITIZE_JSON)
		return cp == 0x7F || (cp >= 0x80 && dbr_sanitize_unsafe_cp(cp))
		       ? (snprintf(tmp, cap, "\\u%04x", cp), tmp) : NULL;
	else if (cp == '\r' || (mode == DBR_SANITIZE_LINE && (cp == '\n' || cp == '\t')))
		snprintf(tmp, cap, "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
	else if (!dbr_sanitize_unsafe_cp(cp))
		return NULL;
	else if (cp < 0x80)
		snprintf(tmp, cap, "\\x%02x", cp);
	else
		snprintf(tmp, cap, "\\u%04x", cp);
	return tmp;
}

int dbr_sanitize_clean(const char *in, size_t len, enum dbr_sanitize_mode mode)
{
	const unsigned char *s = (const unsigned char *)in;
	char tmp[16];

	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t n = dbr_utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			return 0;
		if (escape_of(cp, n, mode, tmp, sizeof(tmp)))
			return 0;
		i += n;
	}
	return 1;
}

/* Escape s[0..len) into out (room for len * ESCAPE_MAX bytes), from *o on.
 * With limit, stop before the first unit (a character or its escape) that
 * would end past limit. */
static void escape_into(char *out, size_t *o, const unsigned char *s, size_t len,
			enum dbr_sanitize_mode mode, size_t limit)
{
	char tmp[16];

	for (size_t i = 0; i < len;) {
		unsigned cp = s[i];
		size_t n = dbr_utf8_decode(s + i, len - i, &cp);
		const char *esc = escape_of(cp, n, mode, tmp, sizeof(tmp));
		size_t w = esc ? strlen(esc) : n;

		if (limit && *o + w > limit)
			break;
		memcpy(out + *o, esc ? esc : (const char *)s + i, w);
		*o += w;
		i += n ? n : 1;
	}
	out[*o] = '\0';
}

int dbr_sanitize(const char *in, size_t len, enum dbr_sanitize_mode mode, size_t max,
		 char **out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	char *buf;

	if (!out || (!in && len))
		return DBR_E_INVAL;
	*out = NULL;
	if (outlen)
		*outlen = 0;
	if (len > SANITIZE_MAX_IN)
		return DBR_E_NOMEM;
	/* every byte grows at most ESCAPE_MAX times */
	buf = malloc(len * ESCAPE_MAX + sizeof(ELLIPSIS));
	if (!buf)
		return DBR_E_NOMEM;
	escape_into(buf, &o, s, len, mode, 0);
	if (max > 0 && o > max) {
		size_t keep = max > sizeof(ELLIPSIS) - 1 ? max - (sizeof(ELLIPSIS) - 1) : 0;
		size_t cut = dbr_text_cut_len(buf, o, keep);

		/* again, up to the last whole unit before the cut */
		o = 0;
		if (cut)
			escape_into(buf, &o, s, len, mode, cut);
		if (max >= sizeof(ELLIPSIS) - 1) {
			memcpy(buf + o, ELLIPSIS, sizeof(ELLIPSIS));
			o += sizeof(ELLIPSIS) - 1;
		}
		buf[o] = '\0';
	}
	*out = buf;
	if (outlen)
		*outlen = o;
	return 0;
}

int dbr_sanitize_masked(const struct dbr_mask *m, const char *in, size_t len,
			enum dbr_sanitize_mode mode, size_t max, char **out, size_t *outlen)
{
	char *masked = NULL;
	size_t mlen = 0;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	rc = dbr_mask_buffer(m, in, len, &masked, &mlen);
	if (rc)
		return rc;
	if (max == 0 && dbr_sanitize_clean(masked, mlen, mode)) {
		*out = masked;
		if (outlen)
			*outlen = mlen;
		return 0;
	}
	rc = dbr_sanitize(masked, mlen, mode, max, out, outlen);
	explicit_bzero(masked, mlen);
	free(masked);
	return rc;
}
