/* Secret handles in OpenSSL's secure heap. */
#include "dbroker/secret.h"

#include <string.h>

#include "crypto_lazy.h"
#include "dbroker/bytes.h"
#include "secmem.h"
#include "secret_internal.h"
#include "banned.h"

/* Header and bytes share one secure allocation so the length and capacity
 * of a secret are not sitting on the normal heap either. */
struct dbr_secret {
	size_t len;
	size_t cap;  /* bytes available, excluding the NUL */
	int mapped;  /* the block's kind (secmem.h) */
	unsigned char bytes[];
};

int dbr_secret_alloc(size_t cap, struct dbr_secret **out)
{
	struct dbr_secmem_block b;
	struct dbr_secret *s;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (cap == 0 || cap > DBR_SECRET_MAX)
		return cap ? DBR_E_TOO_LARGE : DBR_E_INVAL;
	/* the locked arena, or once it is full or missing a private mapping
	 * excluded from core dumps: never the ordinary heap */
	if ((rc = dbr_secmem_block_alloc(&b, sizeof(*s) + cap + 1)))
		return rc;
	s = (struct dbr_secret *)b.p;
	s->mapped = b.mapped;
	s->cap = cap;
	*out = s;
	return 0;
}

int dbr_secret_new(const void *bytes, size_t len, struct dbr_secret **out)
{
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!bytes || len == 0)
		return DBR_E_INVAL;
	rc = dbr_secret_alloc(len, out);
	if (rc)
		return rc;
	memcpy((*out)->bytes, bytes, len);
	(*out)->len = len;
	return 0;
}

int dbr_secret_fill(size_t cap,
		    int (*fill)(void *ctx, unsigned char *buf, size_t cap, size_t *len),
		    void *ctx, struct dbr_secret **out)
{
	struct dbr_secret *s = NULL;
	size_t len = 0;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!fill)
		return DBR_E_INVAL;
	rc = dbr_secret_alloc(cap, &s);
	if (rc)
		return rc;
	rc = fill(ctx, s->bytes, s->cap, &len);
	if (rc == 0 && len > s->cap)
		rc = DBR_E_INTERNAL;
	if (rc) {
		/* whatever fill() wrote, also past what it admitted to */
		dbr_wipe(s->bytes, s->cap);
		dbr_secret_free(s);
		return rc;
	}
	s->len = len;
	s->bytes[len] = '\0';
	*out = s;
	return 0;
}

int dbr_secret_dup(const struct dbr_secret *s, struct dbr_secret **out)
{
	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!s)
		return DBR_E_INVAL;
	return dbr_secret_new(s->bytes, s->len, out);
}

int dbr_secret_append(struct dbr_secret *s, const void *bytes, size_t len)
{
	if (!s || (!bytes && len))
		return DBR_E_INVAL;
	if (len > s->cap - s->len)
		return DBR_E_TOO_LARGE;
	memcpy(s->bytes + s->len, bytes, len);
	s->len += len;
	s->bytes[s->len] = '\0';
	return 0;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void dbr_secret_trim(struct dbr_secret *s)
{
	size_t start = 0, end;

	if (!s)
		return;
	end = s->len;
	while (end > 0 && is_space(s->bytes[end - 1]))
		end--;
	while (start < end && is_space(s->bytes[start]))
		start++;
	if (start)
		memmove(s->bytes, s->bytes + start, end - start);
	dbr_wipe(s->bytes + (end - start), s->len - (end - start));
	s->len = end - start;
	s->bytes[s->len] = '\0';
}

size_t dbr_secret_len(const struct dbr_secret *s)
{
	return s ? s->len : 0;
}

const unsigned char *dbr_secret_bytes(const struct dbr_secret *s)
{
	return s ? s->bytes : NULL;
}

int dbr_secret_equal_bytes(const struct dbr_secret *a, const void *bytes,
			   size_t len)
{
	if (!a || !bytes || a->len != len)
		return 0;
	return dbr_ct_equal(a->bytes, bytes, len);
}

int dbr_secret_equal(const struct dbr_secret *a, const struct dbr_secret *b)
{
	if (!a || !b)
		return 0;
	return dbr_secret_equal_bytes(a, b->bytes, b->len);
}

int dbr_secret_fingerprint(const struct dbr_secret *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[DBR_SHA256_LEN];
	size_t i;
	int rc;

	if (!s || !out || outsz < DBR_SECRET_FP_MAX)
		return DBR_E_INVAL;
	if ((rc = dbr_crypto_sha256(s->bytes, s->len, md)))
		return rc;
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 4; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[15] = '\0';
	dbr_wipe(md, sizeof(md));
	return 0;
}

static const char *const known_prefixes[] = { "dapi", "dose", "hvs.", "hvb.", "hvr." };

int dbr_secret_hint(const struct dbr_secret *s, char *out, size_t outsz)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	size_t n = 0, i;

	if (!s || !out || outsz < DBR_SECRET_HINT_MAX)
		return DBR_E_INVAL;
	for (i = 0; i < sizeof(known_prefixes) / sizeof(known_prefixes[0]); i++) {
		if (s->len >= 16 && memcmp(s->bytes, known_prefixes[i], 4) == 0) {
			memcpy(out, known_prefixes[i], 4);
			n = 4;
			break;
		}
	}
	memcpy(out + n, ellipsis, 3);
	n += 3;
	if (s->len >= 16) {
		/* any sane token ends in printable characters; if not, show
		 * nothing rather than raw bytes */
		for (i = s->len - 4; i < s->len; i++)
			if (s->bytes[i] < 0x21 || s->bytes[i] > 0x7e)
				break;
		if (i == s->len) {
			memcpy(out + n, s->bytes + s->len - 4, 4);
			n += 4;
		}
	}
	out[n] = '\0';
	return 0;
}

int dbr_secret_bytes_pat_shaped(const unsigned char *b, size_t n)
{
	size_t i;

	if (!b || n < 36 || memcmp(b, "dapi", 4) != 0)
		return 0;
	for (i = 4; i < 36; i++) {
		unsigned char c = b[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	if (n == 36)
		return 1;
	if (b[36] != '-' || n == 37)
		return 0;
	for (i = 37; i < n; i++)
		if (b[i] < '0' || b[i] > '9')
			return 0;
	return 1;
}

int dbr_secret_is_pat_shaped(const struct dbr_secret *s)
{
	return s ? dbr_secret_bytes_pat_shaped(s->bytes, s->len) : 0;
}

size_t dbr_secret_bytes_word_end(const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n && b[i] > 0x20 && b[i] != 0x7f)
		i++;
	return i;
}

int dbr_secret_is_one_word(const struct dbr_secret *s)
{
	if (!s || s->len == 0)
		return 0;
	return dbr_secret_bytes_word_end(s->bytes, s->len) == s->len;
}

void dbr_secret_free(struct dbr_secret *s)
{
	struct dbr_secmem_block b;

	if (!s)
		return;
	b.p = (unsigned char *)s;
	b.len = sizeof(*s) + s->cap + 1;
	b.mapped = s->mapped;
	dbr_secmem_block_free(&b);
}
