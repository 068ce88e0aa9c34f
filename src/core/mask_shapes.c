/* Shape rules: tokens and credential fields recognised by their form,
 * whether or not anyone registered them.
 *
 * Every rule has a 3-byte anchor fragment that is rare in ordinary text
 * ("dap" of "dapi", "zat" inside "authorization", the "en" and closing
 * quote of a token key...). Fragments are found Teddy-style (after
 * Hyperscan): each of the 3 positions maps the byte to a set of 8 rule-group
 * bits, and a position is a candidate when the AND over the 3 positions is
 * non-zero. With AVX-512 VBMI
 * the per-position maps are exact 128-entry tables (one vpermi2b each); with
 * AVX2 they are split into nibble tables (pshufb); the scalar path uses
 * 256-entry tables. All three yield the same candidates or a superset, and
 * every candidate is verified byte by byte, so the output does not depend
 * on the path taken.
 */
#include "mask_internal.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MASK_X86 1
#include <immintrin.h>
/* glibc's CPU features were read by the dynamic loader already; libgcc's
 * __builtin_cpu_supports() runs CPUID again from a constructor, and CPUID
 * traps to the hypervisor in a virtual machine */
#if defined(__GLIBC__) && __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define MASK_GLIBC_CPU 1
#endif
#endif

#include "dbroker/errors.h"
#include "banned.h"

/* Rule groups: one bit each in the anchor tables. Groups sharing a bit
 * were paired so that the mixed fragments ("das", "hcs"...) stay rare. */
enum {
	G_PAT_PW,   /* "dap" of "dapi"; "ssw" in the password keys */
	G_VAULT_SEC,/* "hv" [sbr] (Vault); "ecr" in the secret keys */
	G_LEGACY,   /* non-alnum, "s", "." (legacy Vault token) */
	G_AUTHZ,    /* "zat" in "authorization" (header and JSON key) */
	G_BEARER,   /* "rer" in "bearer" */
	G_BASIC,    /* "asi" in "basic" */
	G_TOKKEY,   /* "en" + quote at the end of the token keys */
	G_APIKEY,   /* "pik" / "i_k" in the api key keys */
};

/* A JSON key and where its anchor fragment sits, counted from the opening
 * quote. */
struct mask_key {
	const char *name;
	unsigned char len;
	unsigned char frag_at;
};

static const struct mask_key keys_tok[] = {
	{ "token", 5, 4 },          { "access_token", 12, 11 },
	{ "refresh_token", 13, 12 }, { "id_token", 8, 7 },
	{ "client_token", 12, 11 },
};
static const struct mask_key keys_sec[] = {
	{ "secret", 6, 2 }, { "client_secret", 13, 9 }, { "secret_id", 9, 2 },
};
static const struct mask_key keys_pw[] = {
	{ "password", 8, 3 }, { "passwd", 6, 3 },
};
static const struct mask_key keys_api[] = {
	{ "apikey", 6, 2 }, { "api_key", 7, 3 },
};
static const struct mask_key keys_auth[] = {
	{ "authorization", 13, 8 },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* Character classes, one bit each (ASCII only: bytes >= 0x80 are in none). */
enum {
	C_ALNUM = 1,  /* [A-Za-z0-9] */
	C_HEX = 2,    /* [0-9A-Fa-f] */
	C_TOK = 4,    /* [A-Za-z0-9_-]: Vault and PAT token characters */
	C_B64T = 8,   /* [A-Za-z0-9-._~+/=]: b64token (RFC 6750) and '=' */
	C_BLANK = 16, /* space, tab */
	C_JWS = 32,   /* JSON whitespace: space, tab, CR, LF */
	C_ALPHA = 64,
	C_LOWER = 128,
};

static const uint8_t cls[256] = {
	  0,   0,   0,   0,   0,   0,   0,   0,   0,  48,  32,   0,   0,  32,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	 48,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   8,   0,  12,   8,   8,
	 15,  15,  15,  15,  15,  15,  15,  15,  15,  15,   0,   0,   0,   8,   0,   0,
	  0,  79,  79,  79,  79,  79,  79,  77,  77,  77,  77,  77,  77,  77,  77,  77,
	 77,  77,  77,  77,  77,  77,  77,  77,  77,  77,  77,   0,   0,   0,   0,  12,
	  0, 207, 207, 207, 207, 207, 207, 205, 205, 205, 205, 205, 205, 205, 205, 205,
	205, 205, 205, 205, 205, 205, 205, 205, 205, 205, 205,   0,   0,   0,   8,   0,
};

#define IS(c, k) ((cls[(unsigned char)(c)] & (k)) != 0)

static inline int is_alpha(unsigned c)
{
	return IS(c, C_ALPHA);
}

static inline int is_alnum(unsigned c)
{
	return IS(c, C_ALNUM);
}

static inline int is_hex(unsigned c)
{
	return IS(c, C_HEX);
}

static inline int is_tok(unsigned c)
{
	return IS(c, C_TOK);
}

static inline int is_b64t(unsigned c)
{
	return IS(c, C_B64T);
}

static inline int is_blank(unsigned c)
{
	return IS(c, C_BLANK);
}

static inline int is_jws(unsigned c)
{
	return IS(c, C_JWS);
}

/* p[0..n) equals the lower-case word w, ignoring ASCII case. */
static int ci_eq(const unsigned char *p, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];

		if (c - 'A' < 26u)
			c |= 32u;
		if (c != (unsigned char)w[i])
			return 0;
	}
	return 1;
}

/* ---- anchor tables ---- */

/* Add a fragment to group g: pos[k] lists the bytes allowed at position k;
 * "\1" stands for [A-Za-z0-9], "\2" for any other byte. Letters match in
 * either case when ci is set. */
static void frag_add(struct mask_shape_tabs *t, unsigned g,
		     const char *pos[MASK_FRAG_LEN], int ci)
{
	uint8_t bit = (uint8_t)(1u << g);

	for (unsigned k = 0; k < MASK_FRAG_LEN; k++) {
		if (pos[k][0] == '\1' || pos[k][0] == '\2') {
			for (unsigned c = 0; c < 256; c++)
				if (is_alnum(c) == (pos[k][0] == '\1'))
					t->exact[k][c] |= bit;
			continue;
		}
		for (const char *p = pos[k]; *p; p++) {
			unsigned c = (unsigned char)*p;

			t->exact[k][c] |= bit;
			if (ci && is_alpha(c))
				t->exact[k][c ^ 32u] |= bit;
		}
	}
}

static void frag_word(struct mask_shape_tabs *t, unsigned g, const char *w, int ci)
{
	char s[MASK_FRAG_LEN][2] = { { w[0], 0 }, { w[1], 0 }, { w[2], 0 } };
	const char *pos[MASK_FRAG_LEN] = { s[0], s[1], s[2] };

	frag_add(t, g, pos, ci);
}

void mask_shapes_init(struct mask_shape_tabs *t)
{
	const char *vault[MASK_FRAG_LEN] = { "h", "v", "sbr" };
	const char *legacy[MASK_FRAG_LEN] = { "\2", "s", "." };

	memset(t, 0, sizeof(*t));
	frag_word(t, G_PAT_PW, "dap", 0);
	frag_word(t, G_PAT_PW, "ssw", 1);
	frag_add(t, G_VAULT_SEC, vault, 0);
	frag_word(t, G_VAULT_SEC, "ecr", 1);
	frag_add(t, G_LEGACY, legacy, 0);
	frag_word(t, G_AUTHZ, "zat", 1);
	frag_word(t, G_BEARER, "rer", 1);
	frag_word(t, G_BASIC, "asi", 1);
	frag_word(t, G_TOKKEY, "en\"", 1);
	frag_word(t, G_APIKEY, "pik", 1);
	frag_word(t, G_APIKEY, "i_k", 1);
	/* nibble tables: a superset of the exact sets (pshufb can only look
	 * the two halves up separately) */
	for (unsigned k = 0; k < MASK_FRAG_LEN; k++)
		for (unsigned c = 0; c < 256; c++) {
			t->nib_lo[k][c & 15] |= t->exact[k][c];
			t->nib_hi[k][c >> 4] |= t->exact[k][c];
		}
}

int mask_shapes_simd_level(void)
{
#if defined(MASK_GLIBC_CPU)
	if (CPU_FEATURE_ACTIVE(AVX512_VBMI) && CPU_FEATURE_ACTIVE(AVX512BW))
		return MASK_SIMD_AVX512;
	if (CPU_FEATURE_ACTIVE(AVX2))
		return MASK_SIMD_AVX2;
#elif defined(MASK_X86)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw"))
		return MASK_SIMD_AVX512;
	if (__builtin_cpu_supports("avx2"))
		return MASK_SIMD_AVX2;
#endif
	return MASK_SIMD_SCALAR;
}

/* ---- regions ---- */

size_t mask_ext_run(unsigned kind, unsigned *state, const unsigned char *p,
		    size_t n, int *done)
{
	size_t i = 0, cov = 0;

	switch (kind) {
	case MASK_EXT_TOK:
		while (i < n && is_tok(p[i]))
			i++;
		cov = i;
		break;
	case MASK_EXT_TOKDOT:
		/* a dot counts only when a token character follows it, so a
		 * sentence's full stop stays; a dot at the end of the data is
		 * left for the next round */
		while (i < n) {
			if (is_tok(p[i]))
				cov = ++i;
			else if (p[i] == '.' && i == cov)
				i++;
			else
				break;
		}
		break;
	case MASK_EXT_B64T:
		while (i < n && is_b64t(p[i]))
			i++;
		cov = i;
		break;
	case MASK_EXT_LINE: {
		const unsigned char *nl = memchr(p, '\n', n);

		i = nl ? (size_t)(nl - p) : n;
		nl = memchr(p, '\r', i);
		if (nl)
			i = (size_t)(nl - p);
		cov = i;
		break;
	}
	case MASK_EXT_JSON: {
		unsigned esc = *state;

		for (; i < n; i++) {
			unsigned c = p[i];

			if (c == '\n' || c == '\r')
				break;
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				break;
		}
		*state = esc;
		cov = i;
		break;
	}
	default:
		*done = 1;
		return 0;
	}
	*done = i < n;
	return cov;
}

void mask_region(struct mask_scan *sc, size_t rs, size_t es, unsigned kind,
		 unsigned state)
{
	struct mask_run *run = kind < MASK_EXT_JSON ? &sc->run[kind] : NULL;
	int done = 0;
	size_t e = es;

	if (run && run->valid && es >= run->from && es <= run->to) {
		e = run->to;
		done = run->done;
	} else if (es < sc->end) {
		e += mask_ext_run(kind, &state, sc->mem + (es - sc->base),
				  sc->end - es, &done);
		if (run) {
			run->from = es;
			run->to = e;
			run->done = done;
			run->valid = 1;
		}
	}
	mask_span_add(sc, rs, e);
	if (done || (sc->final && !sc->keep_open))
		return;
	for (size_t i = 0; i < *sc->nopen; i++) {
		struct mask_open *o = &sc->open[i];

		if (o->kind == kind && o->state == state && o->front == e)
			return;
	}
	if (*sc->nopen < MASK_OPEN_MAX) {
		sc->open[*sc->nopen].front = e;
		sc->open[*sc->nopen].kind = (unsigned char)kind;
		sc->open[*sc->nopen].state = (unsigned char)state;
		(*sc->nopen)++;
	} else {
		/* cannot happen (one entry per kind and state); fail closed */
		sc->err = DBR_E_INTERNAL;
	}
}

/* ---- verifiers: p is where the match starts ---- */

/* Byte at absolute offset x (caller checked x < sc->end). */
#define AT(sc, x) ((sc)->mem[(x) - (sc)->base])

static int have(const struct mask_scan *sc, size_t p, size_t n)
{
	return p >= sc->origin && p >= sc->base && p <= sc->end && n <= sc->end - p;
}

/* "dapi" + 32 hex digits; the mask runs over the token characters that
 * follow ("-2" suffix, or longer digit runs). */
static void try_pat(struct mask_scan *sc, size_t p)
{
	const unsigned char *d;

	if (!have(sc, p, 36))
		return;
	d = &AT(sc, p);
	if (memcmp(d, "dapi", 4))
		return;
	for (unsigned i = 4; i < 36; i++)
		if (!is_hex(d[i]))
			return;
	mask_region(sc, p, p + 36, MASK_EXT_TOK, 0);
}

/* "hvs." / "hvb." / "hvr." + at least 20 token characters. */
static void try_vault(struct mask_scan *sc, size_t p)
{
	const unsigned char *d;

	if (!have(sc, p, 24))
		return;
	d = &AT(sc, p);
	if (d[0] != 'h' || d[1] != 'v' || (d[2] != 's' && d[2] != 'b' && d[2] != 'r') ||
	    d[3] != '.')
		return;
	for (unsigned i = 4; i < 24; i++)
		if (!is_tok(d[i]))
			return;
	mask_region(sc, p, p + 24, MASK_EXT_TOKDOT, 0);
}

/* Legacy Vault token: "s." + 24 alphanumerics, not glued to a word before
 * it (so "items.AbCd..." stays). */
static void try_legacy(struct mask_scan *sc, size_t p)
{
	const unsigned char *d;

	if (!have(sc, p, 26))
		return;
	if (p > sc->origin) {
		if (p == sc->base || is_alnum(AT(sc, p - 1)))
			return;
	}
	d = &AT(sc, p);
	if (d[0] != 's' || d[1] != '.')
		return;
	for (unsigned i = 2; i < 26; i++)
		if (!is_alnum(d[i]))
			return;
	mask_region(sc, p, p + 26, MASK_EXT_TOKDOT, 0);
}

void mask_shapes_at_origin(struct mask_scan *sc)
{
	try_legacy(sc, sc->origin);
}

/* Skip at most MASK_BLANK_MAX bytes of a class from x. Returns the offset
 * after them, or (size_t)-1 when the run is longer or runs past the data. */
static size_t skip_ws(const struct mask_scan *sc, size_t x, int json)
{
	for (unsigned n = 0; x < sc->end; x++, n++) {
		unsigned c = AT(sc, x);

		if (!(json ? is_jws(c) : is_blank(c)))
			return x;
		if (n == MASK_BLANK_MAX)
			return (size_t)-1;
	}
	return sc->final ? x : (size_t)-1;
}

/* "authorization:" (any case): the rest of the line after the blanks. */
static void try_auth_header(struct mask_scan *sc, size_t p)
{
	size_t x;

	if (!have(sc, p, 14) || !ci_eq(&AT(sc, p), "authorization", 13) ||
	    AT(sc, p + 13) != ':')
		return;
	x = p + 14;
	/* more blanks than allowed: mask from the colon on (fail closed) */
	for (unsigned n = 0; n < MASK_BLANK_MAX && x < sc->end && is_blank(AT(sc, x)); n++)
		x++;
	mask_region(sc, x, x, MASK_EXT_LINE, 0);
}

/* "bearer" / "basic" (any case), blanks, then a credential: a run of at
 * least 8 b64token characters that does not look like an English word (a
 * letter followed by lower-case letters only, fewer than 20), so "Bearer
 * tokens expire" and "Basic authentication" stay readable. */
static void try_scheme(struct mask_scan *sc, size_t p, const char *kw, size_t kwlen)
{
	size_t x, rs;
	unsigned r = 0;
	int word = 1;

	if (!have(sc, p, kwlen + 1) || !ci_eq(&AT(sc, p), kw, kwlen) ||
	    !is_blank(AT(sc, p + kwlen)))
		return;
	x = skip_ws(sc, p + kwlen, 0);
	if (x == (size_t)-1)
		return;
	rs = x;
	while (r < 20 && x < sc->end && is_b64t(AT(sc, x))) {
		unsigned c = AT(sc, x);

		if (r == 0)
			word = is_alpha(c);
		else if (!IS(c, C_LOWER))
			word = 0;
		x++;
		r++;
	}
	if (r < 8 || (r < 20 && word))
		return;
	mask_region(sc, rs, x, MASK_EXT_B64T, 0);
}

/* "key" (any case), optional JSON whitespace, ':', optional whitespace,
 * then a string: its content is masked, the quotes stay. */
static void try_json_key(struct mask_scan *sc, size_t f, const struct mask_key *k)
{
	size_t p, x;

	if (f < k->frag_at)
		return;
	p = f - k->frag_at;
	if (!have(sc, p, (size_t)k->len + 2) || AT(sc, p) != '"' ||
	    !ci_eq(&AT(sc, p + 1), k->name, k->len) || AT(sc, p + 1 + k->len) != '"')
		return;
	x = skip_ws(sc, p + 2 + k->len, 1);
	if (x == (size_t)-1 || x >= sc->end || AT(sc, x) != ':')
		return;
	x = skip_ws(sc, x + 1, 1);
	if (x == (size_t)-1 || x >= sc->end || AT(sc, x) != '"')
		return;
	mask_region(sc, x + 1, x + 1, MASK_EXT_JSON, 0);
}

static void try_keys(struct mask_scan *sc, size_t f, const struct mask_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		try_json_key(sc, f, &k[i]);
}

/* Byte at offset x, or -1 outside the data held. */
static inline int byte_at(const struct mask_scan *sc, size_t x)
{
	return x >= sc->base && x < sc->end ? sc->mem[x - sc->base] : -1;
}

/* Candidate fragment at f for the groups in bits. Most candidates are
 * ordinary words ("token", "basic"): one look at the byte that tells them
 * apart comes first. */
static void verify(struct mask_scan *sc, size_t f, unsigned bits)
{
	const struct mask_run *line = &sc->run[MASK_EXT_LINE];
	int after = byte_at(sc, f + 3), covered;

	/* Inside an Authorization value found before: a token or header rule
	 * starting here stops at the end of that line at the latest (none
	 * crosses CR or LF), and all of the line is masked already. Not so a
	 * JSON key: its value may be on a later line. */
	covered = line->valid && f >= line->from + MASK_FRAG_BACK && f + 1 < line->to;
	if (bits & (1u << G_PAT_PW)) {
		if (byte_at(sc, f) == 'd') {
			if (!covered)
				try_pat(sc, f);
		} else if (byte_at(sc, f - 3) == '"') {
			try_keys(sc, f, keys_pw, NKEYS(keys_pw));
		}
	}
	if (bits & (1u << G_VAULT_SEC)) {
		if (byte_at(sc, f) == 'h') {
			if (!covered)
				try_vault(sc, f);
		} else if ((byte_at(sc, f + 4) | 32) == 't') { /* "secret" */
			try_keys(sc, f, keys_sec, NKEYS(keys_sec));
		}
	}
	if ((bits & (1u << G_LEGACY)) && !covered)
		try_legacy(sc, f + 1);
	if (bits & (1u << G_AUTHZ)) {
		int c = byte_at(sc, f + 6);

		if (c == ':' && f >= 7) {
			if (!covered)
				try_auth_header(sc, f - 7);
		} else if (c == '"') {
			try_keys(sc, f, keys_auth, NKEYS(keys_auth));
		}
	}
	/* "bearer" / "basic" are followed by a blank */
	if ((bits & (1u << G_BEARER)) && !covered && (after == ' ' || after == '\t') &&
	    f >= 3)
		try_scheme(sc, f - 3, "bearer", 6);
	if ((bits & (1u << G_BASIC)) && !covered) {
		int c = byte_at(sc, f + 4);

		if ((c == ' ' || c == '\t') && f >= 1)
			try_scheme(sc, f - 1, "basic", 5);
	}
	if (bits & (1u << G_TOKKEY))
		try_keys(sc, f, keys_tok, NKEYS(keys_tok));
	if (bits & (1u << G_APIKEY))
		try_keys(sc, f, keys_api, NKEYS(keys_api));
}

/* ---- anchor scanning ---- */

/* The SIMD loops only collect candidates (no calls inside, so the tables
 * stay in registers); they are verified in batches. */
struct cand {
	size_t at; /* index into sc->mem */
	unsigned bits;
};

#define CAND_BATCH 256
#define CAND_ROOM (CAND_BATCH - 32) /* room for one more AVX2 block */

/* Relative offsets: i indexes sc->mem. */
static void scan_scalar(struct mask_scan *sc, const struct mask_shape_tabs *t,
			size_t i, size_t to)
{
	const unsigned char *d = sc->mem;

	/* branch-free: a candidate is rare, the first byte matching is not */
	for (; i < to; i++) {
		unsigned b = t->exact[0][d[i]] & t->exact[1][d[i + 1]] &
			     t->exact[2][d[i + 2]];

		if (__builtin_expect(b != 0, 0))
			verify(sc, sc->base + i, b);
	}
}

#ifdef MASK_X86
__attribute__((target("avx2")))
static size_t scan_avx2(const unsigned char *d, size_t i, size_t to,
			const struct mask_shape_tabs *t, struct cand *c, size_t *nc)
{
	const __m256i low = _mm256_set1_epi8(15);
	__m256i lo[MASK_FRAG_LEN], hi[MASK_FRAG_LEN];
	size_t n = 0;

	for (unsigned k = 0; k < MASK_FRAG_LEN; k++) {
		lo[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)t->nib_lo[k]));
		hi[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)t->nib_hi[k]));
	}
	for (; i + 32 <= to && n < CAND_ROOM; i += 32) {
		__m256i acc = _mm256_set1_epi8(-1);

		for (unsigned k = 0; k < MASK_FRAG_LEN; k++) {
			__m256i v = _mm256_loadu_si256((const void *)(d + i + k));
			__m256i a = _mm256_shuffle_epi8(lo[k], _mm256_and_si256(v, low));
			__m256i b = _mm256_shuffle_epi8(hi[k],
				_mm256_and_si256(_mm256_srli_epi16(v, 4), low));

			acc = _mm256_and_si256(acc, _mm256_and_si256(a, b));
		}
		if (__builtin_expect(!_mm256_testz_si256(acc, acc), 0)) {
			uint8_t r[32];
			uint32_t mask;

			_mm256_storeu_si256((void *)r, acc);
			mask = ~(uint32_t)_mm256_movemask_epi8(
				_mm256_cmpeq_epi8(acc, _mm256_setzero_si256()));
			while (mask) {
				unsigned j = (unsigned)__builtin_ctz(mask);

				mask &= mask - 1;
				c[n].at = i + j;
				c[n++].bits = r[j];
			}
		}
	}
	*nc = n;
	return i;
}

/* One 64-byte block: the candidate bits of each position. */
#define BLOCK512(d, i, r)                                                        \
	do {                                                                     \
		__m512i v_ = _mm512_loadu_si512((const void *)((d) + (i)));       \
		__m512i r0_ = _mm512_permutex2var_epi8(t0l, v_, t0h);             \
		__m512i r1_ = _mm512_permutex2var_epi8(t1l,                       \
			_mm512_loadu_si512((const void *)((d) + (i) + 1)), t1h);  \
		__m512i r2_ = _mm512_permutex2var_epi8(t2l,                       \
			_mm512_loadu_si512((const void *)((d) + (i) + 2)), t2h);  \
		r0_ = _mm512_mask_mov_epi8(r0_, _mm512_movepi8_mask(v_), legacy); \
		(r) = _mm512_ternarylogic_epi64(r0_, r1_, r2_, 0x80);             \
	} while (0)

__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static size_t scan_avx512(const unsigned char *d, size_t i, size_t to,
			  const struct mask_shape_tabs *t, struct cand *c, size_t *nc)
{
	/* bytes >= 0x80 are never part of a fragment except as the byte
	 * before a legacy Vault token: their position-0 entry is fixed up */
	const __m512i legacy = _mm512_set1_epi8((char)t->exact[0][0x80]);
	const __m512i t0l = _mm512_loadu_si512((const void *)t->exact[0]);
	const __m512i t0h = _mm512_loadu_si512((const void *)(t->exact[0] + 64));
	const __m512i t1l = _mm512_loadu_si512((const void *)t->exact[1]);
	const __m512i t1h = _mm512_loadu_si512((const void *)(t->exact[1] + 64));
	const __m512i t2l = _mm512_loadu_si512((const void *)t->exact[2]);
	const __m512i t2h = _mm512_loadu_si512((const void *)(t->exact[2] + 64));
	size_t n = 0;

	/* two blocks a round, one branch for both */
	for (; i + 128 <= to && n <= CAND_BATCH - 128; i += 128) {
		__m512i ra, rb;
		__mmask64 ka, kb;

		BLOCK512(d, i, ra);
		BLOCK512(d, i + 64, rb);
		ka = _mm512_test_epi8_mask(ra, ra);
		kb = _mm512_test_epi8_mask(rb, rb);
		if (__builtin_expect((ka | kb) != 0, 0)) {
			uint8_t r[128];

			_mm512_storeu_si512((void *)r, ra);
			_mm512_storeu_si512((void *)(r + 64), rb);
			while (ka) {
				unsigned j = (unsigned)__builtin_ctzll(ka);

				ka &= ka - 1;
				c[n].at = i + j;
				c[n++].bits = r[j];
			}
			while (kb) {
				unsigned j = (unsigned)__builtin_ctzll(kb);

				kb &= kb - 1;
				c[n].at = i + 64 + j;
				c[n++].bits = r[64 + j];
			}
		}
	}
	*nc = n;
	return i;
}
#endif

void mask_shapes_scan(struct mask_scan *sc, const struct mask_shape_tabs *t,
		      int simd, size_t from, size_t to)
{
	size_t i, end;

	if (to <= from)
		return;
	i = from - sc->base;
	end = to - sc->base;
#ifdef MASK_X86
	if (simd >= MASK_SIMD_AVX2) {
		/* the vector loops read MASK_FRAG_LEN - 1 bytes past a block */
		size_t len = sc->end - sc->base - (MASK_FRAG_LEN - 1);
		size_t vend = end < len ? end : len;
		size_t step = simd >= MASK_SIMD_AVX512 ? 128 : 32;
		struct cand c[CAND_BATCH];

		while (i + step <= vend) {
			size_t nc = 0;

			if (simd >= MASK_SIMD_AVX512)
				i = scan_avx512(sc->mem, i, vend, t, c, &nc);
			else
				i = scan_avx2(sc->mem, i, vend, t, c, &nc);
			for (size_t k = 0; k < nc; k++)
				verify(sc, sc->base + c[k].at, c[k].bits);
		}
	}
#else
	(void)simd;
#endif
	scan_scalar(sc, t, i, end);
}
