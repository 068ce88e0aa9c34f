/* Internals shared by the masker's files (mask.c: registry, literal filter,
 * stream engine; mask_shapes.c: shape rules; mask_encode.c: encodings).
 * Internal to libdbroker.
 *
 * Positions are absolute byte offsets in the stream (size_t), so the same
 * match is found at the same place however the input was chunked.
 */
#ifndef DBROKER_MASK_INTERNAL_H
#define DBROKER_MASK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "secmem.h"

struct dbr_mask;

/* Blanks allowed around a shape's separators ("Bearer   x", "\"k\" :  \"v\"").
 * Longer runs are not recognised, except after "Authorization:", where the
 * mask then starts at the blanks (fail closed). */
#define MASK_BLANK_MAX 128

/* Farthest a shape rule reads past its start before it decides (the JSON
 * key rule: quote, 13-char key, quote, blanks, colon, blanks, quote). */
#define MASK_SHAPE_LOOKAHEAD (2 * MASK_BLANK_MAX + 32)

/* Shape anchors are 3-byte fragments found at f; the match starts between
 * f - MASK_FRAG_BACK and f + 1. */
#define MASK_FRAG_BACK 12
#define MASK_FRAG_LEN 3

/* Bytes the stream holds back for the shape rules: every anchor before the
 * emit point can be decided from them. */
#define MASK_SHAPE_HORIZON (MASK_FRAG_BACK + MASK_SHAPE_LOOKAHEAD + MASK_FRAG_LEN + 8)

/* How a masked region goes on after its decided part: masks do not stop at
 * a length, they stop at a terminator (so a region can outgrow any buffer
 * and still be masked whole). */
enum mask_ext {
	MASK_EXT_NONE = 0,
	MASK_EXT_TOK,    /* [A-Za-z0-9_-]* (PAT suffix) */
	MASK_EXT_TOKDOT, /* token chars, single dots allowed between them (Vault) */
	MASK_EXT_B64T,   /* [A-Za-z0-9-._~+/=]* (Bearer / Basic credentials) */
	MASK_EXT_LINE,   /* up to CR or LF (Authorization header value) */
	MASK_EXT_JSON,   /* up to an unescaped quote or CR/LF; state = escape */
	MASK_EXT_COUNT
};

/* The last run measured for a stateless kind: a region starting inside it
 * ends where it ends (so a long run full of matches is measured once). */
struct mask_run {
	size_t from, to;
	int done;
	int valid;
};

/* [start, end) is replaced by DBR_MASK_REPLACEMENT. */
struct mask_span {
	size_t start;
	size_t end;
};

/* A region that reached the end of the data seen so far: it is masked up to
 * front and continues as kind when more data arrives. */
struct mask_open {
	size_t front;
	unsigned char kind;
	unsigned char state;
};

#define MASK_OPEN_MAX 16

struct mask_spans {
	struct mask_span *v;
	size_t n;
	size_t cap;
};

/* One pass over a contiguous piece of the stream. */
struct mask_scan {
	const unsigned char *mem; /* mem[0] is the byte at offset base */
	size_t base;
	size_t end;               /* offset just past the last byte held */
	size_t origin;            /* start of the input: nothing matches before */
	int final;                /* no more input after end */
	int keep_open;            /* final, but regions reaching end stay open
				     (a pause: the input goes on later) */
	int err;                  /* DBR_E_NOMEM while recording a span */
	struct mask_spans *spans;
	struct mask_open *open;
	size_t *nopen;
	struct mask_run run[MASK_EXT_COUNT];
};

/* Shape anchor tables: one bit per rule group (8 groups) for each of the 3
 * fragment positions. */
struct mask_shape_tabs {
	uint8_t exact[MASK_FRAG_LEN][256];
	uint8_t nib_lo[MASK_FRAG_LEN][16];
	uint8_t nib_hi[MASK_FRAG_LEN][16];
};

enum mask_simd {
	MASK_SIMD_SCALAR = 0,
	MASK_SIMD_AVX2 = 1,
	MASK_SIMD_AVX512 = 2, /* AVX-512 VBMI */
};

/* A literal pattern: a secret or one of its encodings (in a dbr_secmem_block, secmem.h). */
struct mask_pat {
	const unsigned char *p;
	size_t len;
};

/* --- mask.c --- */

/* The masker (mask_secrets.c registers, mask.c scans). */
struct dbr_mask {
	/* a secret registered on one thread (an OAuth token renewed by the
	 * exec proxy) while others mask: writers take it exclusively */
	pthread_rwlock_t lock;
	unsigned gen;           /* bumped on every change to the patterns */
	int simd;
	size_t nsecrets;
	struct dbr_secmem_block *blobs; /* one per secret: raw bytes, then encodings */
	struct mask_pat *pats;
	size_t npats;
	size_t minlen, maxlen;
	size_t stride;          /* 0 when there are no patterns */
	struct dbr_secmem_block lit;    /* the literal filter (mask_lit.c) */
	struct mask_shape_tabs tabs;
};

/* The masker's lock, shared: held by every scan of its patterns. */
void mask_read_lock(const struct dbr_mask *m);
void mask_unlock(const struct dbr_mask *m);

/* Record [start, end) as masked (ignored when empty); sets sc->err on
 * allocation failure. */
void mask_span_add(struct mask_scan *sc, size_t start, size_t end);

/* Force a scanning implementation (tests compare them); clamped to what the
 * CPU supports. Returns the level in use. */
int mask_set_simd(struct dbr_mask *m, int level);

/* --- mask_shapes.c --- */

void mask_shapes_init(struct mask_shape_tabs *t);

/* Best level this CPU runs. */
int mask_shapes_simd_level(void);

/* Look for shape anchors at fragment positions [from, to); every position
 * must have MASK_FRAG_LEN bytes in sc. Matches go to sc->spans/sc->open. */
void mask_shapes_scan(struct mask_scan *sc, const struct mask_shape_tabs *t,
		      int simd, size_t from, size_t to);

/* The legacy Vault rule at the very start of the input (it normally looks
 * at the byte before "s."). */
void mask_shapes_at_origin(struct mask_scan *sc);

/* Mask [rs, es) and continue the region as kind from es to a terminator or
 * the end of sc (then it is left open in sc->open unless sc->final). */
void mask_region(struct mask_scan *sc, size_t rs, size_t es, unsigned kind,
		 unsigned state);

/* Continue an open region over p[0..n). Returns how many bytes it covers;
 * *done is set when it ended there. *state is updated. */
size_t mask_ext_run(unsigned kind, unsigned *state, const unsigned char *p,
		    size_t n, int *done);

/* --- mask_lit.c --- */


/* Bytes the literal filter needs for npats patterns of >= minlen bytes. */
size_t mask_lit_size(size_t npats, size_t minlen);

/* Build the literal filter over npats patterns (each >= minlen >= 8
 * bytes) in mem (mask_lit_size() bytes of secret memory); *stride is the
 * sampling step. */
void mask_lit_build(unsigned char *mem, const struct mask_pat *pats, size_t npats,
		    size_t minlen, size_t *stride);

/* Examine the samples q, q + stride, ... below lim (and below end - 3);
 * occurrences starting at or after lo become spans. Returns the next
 * sample. */
size_t mask_lit_scan(const struct dbr_secmem_block *lit, const struct mask_pat *pats,
		     size_t stride, struct mask_scan *sc, size_t q, size_t lim, size_t lo);

/* --- mask_encode.c --- */

/* Scratch bytes mask_encodings() needs for an n-byte secret. */
size_t mask_encodings_scratch(size_t n);

/* Call add(arg, bytes, len) for the secret and each of its encodings:
 * base64 (standard and URL-safe alphabet) of the secret at byte offsets 0, 1
 * and 2 of a larger run, reduced to the characters that do not depend on
 * the neighbouring bytes; percent-encoding (upper- and lower-case hex, and
 * the form variant with '+' for space); JSON string escaping (with and
 * without "\/", lower- and upper-case \u00XX); the same again for the 32 hex
 * digits of a PAT (with or without a "-N" suffix), or for what follows
 * another public prefix ("dapi", "dose") when that is at least 16 bytes
 * (mask_encode.c says why). Variants may repeat (the
 * caller drops duplicates). scratch (secure memory) is left dirty: the
 * caller wipes it. Returns 0 or the first non-zero return of add. */
int mask_encodings(const unsigned char *s, size_t n, unsigned char *scratch,
		   int (*add)(void *arg, const unsigned char *p, size_t len),
		   void *arg);

#endif
