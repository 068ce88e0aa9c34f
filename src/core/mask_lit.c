/* The literal filter: finds the registered secrets and their encodings.
 *
 * Every pattern is at least m bytes long (m >= 8), so every occurrence
 * covers a position that is a multiple of s = m - 3 (capped at 64): only the
 * 4 bytes (a q-gram) at those positions are looked at. Each is hashed and
 * tested against a blocked Bloom filter holding the q-grams found at
 * offsets 0..s-1 of every pattern (two bits in one 32-bit word; at least
 * two words per q-gram, 1 to 32 KiB: well under 1% false hits); a hit is
 * confirmed by
 * comparing the q-gram, then the whole pattern. One lookup every s bytes
 * (37 for 40-byte secrets), however many secrets are registered; four
 * independent lookups a round keep the loads overlapped (faster here than
 * AVX-512 gathers).
 *
 * The tables would let someone rebuild the secrets, so they live in secret
 * memory like the patterns themselves.
 */
#include "mask_internal.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


#include "dbroker/errors.h"
#include "banned.h"

#define LIT_Q 4
/* filter words: 2^8 .. 2^13, two or more per q-gram (a process with one
 * token needs a few KiB, not 68: every page costs a fault to clear and
 * one to wipe) */
#define LIT_WBITS_MIN 8
#define LIT_WBITS_MAX 13
#define LIT_STRIDE_MAX 64
#define LIT_K 0x9E3779B1u

struct lit_ent {
	uint32_t gram; /* the 4 bytes: rejects filter false hits cheaply */
	uint32_t pid;
	uint32_t j;    /* offset of the q-gram in the pattern */
};

/* Laid out in one block of secret memory: the filter (nw words), bucket
 * starts (nw + 1), entries. */
struct lit_tab {
	uint32_t shift; /* 32 - log2(nw): a hash's top bits pick its word */
	uint32_t nw;
	uint32_t w[];
};

#define LIT_BLOOM(t) ((t)->w)
#define LIT_FIRST(t) ((t)->w + (t)->nw)
#define LIT_ENT(t) ((struct lit_ent *)(void *)((t)->w + 2 * (t)->nw + 1))

/* The two-bit mask for bits 10..19 of a hash (not secret: a constant). */
#define P1(i) ((1u << ((i) & 31)) | (1u << ((i) >> 5)))
#define P4(i) P1(i), P1((i) + 1), P1((i) + 2), P1((i) + 3)
#define P16(i) P4(i), P4((i) + 4), P4((i) + 8), P4((i) + 12)
#define P64(i) P16(i), P16((i) + 16), P16((i) + 32), P16((i) + 48)
#define P256(i) P64(i), P64((i) + 64), P64((i) + 128), P64((i) + 192)
static const uint32_t lit_pair[1024] = { P256(0), P256(256), P256(512), P256(768) };

/* ---- secret memory ---- */

/* ---- filter ---- */

static inline uint32_t load32(const unsigned char *p)
{
	uint32_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/* The word in the top bits of the product, the two bit numbers below. */
#define LIT_WORD(shift, h) ((h) >> (shift))
#define LIT_PAIR(h) ((h) >> 10 & 1023)
#define LIT_MASK(h) ((1u << (LIT_PAIR(h) & 31)) | (1u << (LIT_PAIR(h) >> 5)))

static size_t lit_stride(size_t minlen)
{
	size_t s = minlen - LIT_Q + 1;

	return s > LIT_STRIDE_MAX ? LIT_STRIDE_MAX : s;
}

static unsigned lit_wbits(size_t ngrams)
{
	unsigned b = LIT_WBITS_MIN;

	while (b < LIT_WBITS_MAX && ((size_t)1 << b) < 2 * ngrams)
		b++;
	return b;
}

size_t mask_lit_size(size_t npats, size_t minlen)
{
	size_t ngrams = npats * lit_stride(minlen);
	size_t nw = (size_t)1 << lit_wbits(ngrams);

	return sizeof(struct lit_tab) + (2 * nw + 1) * sizeof(uint32_t) +
	       ngrams * sizeof(struct lit_ent);
}

void mask_lit_build(unsigned char *mem, const struct mask_pat *pats, size_t npats,
		    size_t minlen, size_t *stride)
{
	struct lit_tab *t = (struct lit_tab *)(void *)mem;
	size_t s = lit_stride(minlen);
	unsigned wbits = lit_wbits(npats * s);
	uint32_t *bloom, *first;
	struct lit_ent *ent;

	t->shift = 32 - wbits;
	t->nw = 1u << wbits;
	bloom = LIT_BLOOM(t);
	first = LIT_FIRST(t);
	ent = LIT_ENT(t);
	memset(t->w, 0, (2 * (size_t)t->nw + 1) * sizeof(uint32_t));
	/* counting sort by word: count, prefix sums, place */
	for (size_t i = 0; i < npats; i++)
		for (size_t j = 0; j < s; j++) {
			uint32_t h = load32(pats[i].p + j) * LIT_K;

			bloom[LIT_WORD(t->shift, h)] |= LIT_MASK(h);
			first[LIT_WORD(t->shift, h) + 1]++;
		}
	for (size_t w = 0; w < t->nw; w++)
		first[w + 1] += first[w];
	for (size_t i = 0; i < npats; i++)
		for (size_t j = 0; j < s; j++) {
			uint32_t g = load32(pats[i].p + j);
			/* first[w] runs ahead while filling; shifted back below */
			struct lit_ent *e = &ent[first[LIT_WORD(t->shift, g * LIT_K)]++];

			e->gram = g;
			e->pid = (uint32_t)i;
			e->j = (uint32_t)j;
		}
	memmove(first + 1, first, t->nw * sizeof(first[0]));
	first[0] = 0;
	*stride = s;
}

/* A filter hit at sample q: confirm the patterns behind it. */
static void confirm(const struct lit_tab *t, const struct mask_pat *pats,
		    struct mask_scan *sc, size_t q, uint32_t w, size_t lo)
{
	uint32_t gram = load32(sc->mem + (q - sc->base));
	const uint32_t *first = LIT_FIRST(t);
	const struct lit_ent *ent = LIT_ENT(t);

	for (uint32_t e = first[w]; e < first[w + 1]; e++) {
		const struct lit_ent *en = &ent[e];
		const struct mask_pat *pat;
		size_t p;

		if (en->gram != gram || q < en->j)
			continue;
		p = q - en->j;
		pat = &pats[en->pid];
		if (p < lo || p < sc->base || pat->len > sc->end - p)
			continue;
		if (memcmp(sc->mem + (p - sc->base), pat->p, pat->len) == 0)
			mask_span_add(sc, p, p + pat->len);
	}
}

size_t mask_lit_scan(const struct dbr_secmem_block *lit, const struct mask_pat *pats,
		     size_t s, struct mask_scan *sc, size_t q, size_t lim, size_t lo)
{
	const struct lit_tab *t = (const struct lit_tab *)(const void *)lit->p;
	const uint32_t *bloom = LIT_BLOOM(t);
	const uint32_t *pair = lit_pair;
	const unsigned sh = t->shift; /* a local: not reloaded after a confirm() */
	const unsigned char *d = sc->mem;
	size_t base = sc->base;

	if (sc->end - sc->base < LIT_Q)
		return q;
	if (lim > sc->end - (LIT_Q - 1))
		lim = sc->end - (LIT_Q - 1);
	/* four samples a round: their loads and lookups overlap; a sample
	 * passes when none of its two bits is missing from its word */
	for (; q + 3 * s < lim; q += 4 * s) {
		uint32_t h0 = load32(d + (q - base)) * LIT_K;
		uint32_t h1 = load32(d + (q + s - base)) * LIT_K;
		uint32_t h2 = load32(d + (q + 2 * s - base)) * LIT_K;
		uint32_t h3 = load32(d + (q + 3 * s - base)) * LIT_K;
		uint32_t x0 = ~bloom[LIT_WORD(sh, h0)] & pair[LIT_PAIR(h0)];
		uint32_t x1 = ~bloom[LIT_WORD(sh, h1)] & pair[LIT_PAIR(h1)];
		uint32_t x2 = ~bloom[LIT_WORD(sh, h2)] & pair[LIT_PAIR(h2)];
		uint32_t x3 = ~bloom[LIT_WORD(sh, h3)] & pair[LIT_PAIR(h3)];

		if (__builtin_expect(!x0 || !x1 || !x2 || !x3, 0)) {
			if (!x0)
				confirm(t, pats, sc, q, LIT_WORD(sh, h0), lo);
			if (!x1)
				confirm(t, pats, sc, q + s, LIT_WORD(sh, h1), lo);
			if (!x2)
				confirm(t, pats, sc, q + 2 * s, LIT_WORD(sh, h2), lo);
			if (!x3)
				confirm(t, pats, sc, q + 3 * s, LIT_WORD(sh, h3), lo);
		}
	}
	for (; q < lim; q += s) {
		uint32_t h = load32(d + (q - base)) * LIT_K;

		if (!(~bloom[LIT_WORD(sh, h)] & pair[LIT_PAIR(h)]))
			confirm(t, pats, sc, q, LIT_WORD(sh, h), lo);
	}
	return q;
}
