/* The masking sink: registered secrets, their encodings and token shapes
 * are replaced by DBR_MASK_REPLACEMENT, in one buffer or in a stream.
 *
 * How it works
 *  - Literal patterns (a secret and its encodings) are found by a sampled
 *    q-gram filter (mask_lit.c): one hash lookup every s bytes, s = the
 *    shortest pattern - 3, however many secrets are registered.
 *  - Shape rules have 3-byte anchor fragments found with SIMD table lookups
 *    (mask_shapes.c), then verified byte by byte.
 *  - Every match is a span of absolute stream offsets; overlapping and
 *    adjacent spans merge and each merged span is written as one "***".
 *  - A region without a fixed length (the rest of an Authorization line, a
 *    JSON string, a token run) is left "open" when the data ends inside it:
 *    it is masked up to there and continues with the next write, so it is
 *    masked whole however long it gets, without being held back.
 *  - The stream emits everything before P = end - H, where H (the horizon)
 *    is the farthest any rule looks ahead: max(MASK_SHAPE_HORIZON, longest
 *    pattern + s + 8). Only the H bytes after P (plus one byte of look-back)
 *    are held back, in a wiping buffer. Each decision depends only on bytes
 *    the rule reads, so the output does not depend on how the input was cut.
 *
 * Secret-derived data (patterns and the q-gram tables, which would let the
 * secret be rebuilt) lives in OpenSSL's secure heap, or, once that arena is
 * full, in a private mapping excluded from core dumps, locked when allowed
 * and wiped on release.
 */
#include "dbroker/mask.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/bytes.h"

#include "buf.h"
#include "dbroker/secret.h"
#include "mask_internal.h"
#include "secret_internal.h"
#include "banned.h"

#define REPL DBR_MASK_REPLACEMENT
#define REPL_LEN (sizeof(DBR_MASK_REPLACEMENT) - 1)

/* Scanning step: the literal pass reads what the shape pass just read. */
#define STEP (16 * 1024)

/* A carry whose dead prefix grows past this is compacted. */
#define CARRY_SLACK 4096


struct dbr_mask_stream {
	const struct dbr_mask *m;
	dbr_mask_sink_fn sink;
	void *sink_arg;
	int err;                /* sticky sink error */
	unsigned gen;
	size_t origin;          /* start of the current input (after a flush) */
	size_t total;           /* bytes received */
	size_t out_pos;         /* bytes before this are emitted */
	size_t fscan;           /* next fragment position to examine */
	size_t lscan;           /* next q-gram sample */
	size_t tail;            /* end of the last "***" written... */
	int tail_valid;         /* ...if any: an adjacent span continues it */
	struct mask_spans spans;
	struct mask_open open[MASK_OPEN_MAX];
	size_t nopen;
	struct dbr_buf carry;   /* bytes [cbase, total) */
	size_t cbase;
	/* after a pause: the next pass scans again from rescan_from, so a
	 * match that began before the pause is masked where it goes on */
	int rescan;
	size_t rescan_from;
};

/* A held-back tail this long that begins a registered pattern is masked at
 * a pause: what a pause can let out of a secret is shorter than this. */
#define PAUSE_PREFIX_MIN 8

/* ---- spans ---- */

void mask_span_add(struct mask_scan *sc, size_t start, size_t end)
{
	struct mask_spans *s = sc->spans;

	if (end <= start)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct mask_span *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			sc->err = DBR_E_NOMEM;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].start = start;
	s->v[s->n].end = end;
	s->n++;
}

static int span_cmp(const void *a, const void *b)
{
	const struct mask_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort by start and merge overlapping or adjacent spans. */
static void spans_normalize(struct mask_spans *s)
{
	size_t o = 0;

	if (s->n < 2)
		return;
	/* spans arrive nearly in order (each pass goes left to right):
	 * insertion sort, unless that turns out to move too much */
	for (size_t i = 1, moves = 0; i < s->n; i++) {
		struct mask_span x = s->v[i];
		size_t j = i;

		for (; j > 0 && s->v[j - 1].start > x.start; j--)
			s->v[j] = s->v[j - 1];
		s->v[j] = x;
		moves += i - j;
		if (moves > 8 * s->n + 64) {
			qsort(s->v, s->n, sizeof(s->v[0]), span_cmp);
			break;
		}
	}
	for (size_t i = 1; i < s->n; i++) {
		if (s->v[i].start <= s->v[o].end) {
			if (s->v[i].end > s->v[o].end)
				s->v[o].end = s->v[i].end;
		} else {
			s->v[++o] = s->v[i];
		}
	}
	s->n = o + 1;
}

/* ---- stream engine ---- */

static size_t horizon(const struct dbr_mask *m)
{
	size_t h = MASK_SHAPE_HORIZON;

	if (m->npats && m->maxlen + m->stride + 8 > h)
		h = m->maxlen + m->stride + 8;
	return h;
}

static size_t align_up(size_t x, size_t s)
{
	return (x + s - 1) / s * s;
}

static int sink_out(struct dbr_mask_stream *st, const void *p, size_t len)
{
	int rc;

	if (!len)
		return 0;
	rc = st->sink(st->sink_arg, p, len);
	if (rc && !st->err)
		st->err = rc < 0 ? rc : DBR_E_IO;
	return st->err;
}

/* Write [out_pos, upto): raw bytes from mem, one "***" per merged span. */
static int emit_to(struct dbr_mask_stream *st, const unsigned char *mem, size_t base,
		   size_t upto)
{
	struct mask_spans *sp = &st->spans;
	size_t k = 0;
	int rc = 0;

	while (st->out_pos < upto && !rc) {
		struct mask_span *s = k < sp->n ? &sp->v[k] : NULL;

		if (!s || s->start >= upto) {
			rc = sink_out(st, mem + (st->out_pos - base), upto - st->out_pos);
			st->out_pos = upto;
			break;
		}
		if (s->start > st->out_pos) {
			rc = sink_out(st, mem + (st->out_pos - base), s->start - st->out_pos);
			st->out_pos = s->start;
			if (rc)
				break;
		}
		if (!(st->tail_valid && st->tail == st->out_pos))
			rc = sink_out(st, REPL, REPL_LEN);
		if (s->end <= upto) {
			st->out_pos = s->end;
			k++;
		} else {
			st->out_pos = upto;
			s->start = upto;
		}
		st->tail = st->out_pos;
		st->tail_valid = 1;
	}
	if (k) {
		memmove(sp->v, sp->v + k, (sp->n - k) * sizeof(sp->v[0]));
		sp->n -= k;
	}
	return rc;
}

/* At a pause: the longest held-back tail that is the first
 * PAUSE_PREFIX_MIN or more bytes of a registered pattern (not all of it) is
 * masked, so the part of a secret written before a pause is not shown. */
static void pause_prefix(const struct dbr_mask *m, struct mask_scan *sc)
{
	size_t from = sc->base > sc->origin ? sc->base : sc->origin;
	size_t avail = sc->end - from, best = 0;

	for (size_t i = 0; i < m->npats; i++) {
		const struct mask_pat *pt = &m->pats[i];
		size_t j = pt->len - 1 < avail ? pt->len - 1 : avail;

		for (; j >= PAUSE_PREFIX_MIN && j > best; j--)
			if (memcmp(sc->mem + (sc->end - j - sc->base), pt->p, j) == 0) {
				best = j;
				break;
			}
	}
	if (best)
		mask_span_add(sc, sc->end - best, sc->end);
}

/* Spans that end where the output already is: found again by a rescan
 * after a pause, and dealt with before it. */
static void drop_emitted(struct dbr_mask_stream *st)
{
	struct mask_spans *sp = &st->spans;
	size_t k = 0;

	while (k < sp->n && sp->v[k].end <= st->out_pos)
		k++;
	if (k) {
		memmove(sp->v, sp->v + k, (sp->n - k) * sizeof(sp->v[0]));
		sp->n -= k;
	}
}

/* What a pass of process() may assume about the input after end. */
enum pass {
	PASS_MORE,   /* more comes: hold back the horizon */
	PASS_END,    /* the input ends: decide and emit everything */
	PASS_PAUSE,  /* emit everything, but the input goes on: open regions
			stay open, a secret's start at the end is masked */
};

/* Scan mem = bytes [base, end) of the stream, which must hold everything
 * from out_pos - 1 on, and emit up to the new emit point. */
static int process(struct dbr_mask_stream *st, const unsigned char *mem, size_t base,
		   size_t end, enum pass pass)
{
	const struct dbr_mask *m = st->m;
	struct mask_open prev[MASK_OPEN_MAX];
	struct mask_scan sc;
	int final = pass != PASS_MORE;
	size_t h = horizon(m), nprev, P, flim, qlim, lo;

	if (st->err)
		return st->err;
	/* too little past the emit point to decide anything yet */
	if (!final && end - st->out_pos <= h)
		return 0;
	sc.mem = mem;
	sc.base = base;
	sc.end = end;
	sc.origin = st->origin;
	sc.final = final;
	sc.keep_open = pass == PASS_PAUSE;
	sc.err = 0;
	sc.spans = &st->spans;
	sc.open = st->open;
	sc.nopen = &st->nopen;
	memset(sc.run, 0, sizeof(sc.run));
	lo = st->rescan && st->rescan_from < st->out_pos ? st->rescan_from : st->out_pos;
	if (st->gen != m->gen) {
		/* new patterns: sample them from the first unwritten byte */
		st->gen = m->gen;
		if (m->stride)
			st->lscan = align_up(lo, m->stride);
	}

	/* open regions go on over the new bytes */
	nprev = st->nopen;
	memcpy(prev, st->open, nprev * sizeof(prev[0]));
	st->nopen = 0;
	for (size_t i = 0; i < nprev; i++)
		mask_region(&sc, prev[i].front, prev[i].front, prev[i].kind, prev[i].state);

	P = final ? end : end - h;

	flim = final ? (end - base >= MASK_FRAG_LEN ? end - MASK_FRAG_LEN + 1 : base)
		     : P + MASK_FRAG_BACK;
	qlim = final ? end : P + m->stride - 1;
	if (flim > st->fscan && st->fscan == st->origin)
		mask_shapes_at_origin(&sc);
	/* both passes in steps small enough that the second reads from L1 */
	for (;;) {
		if (flim > st->fscan) {
			size_t step = flim - st->fscan > STEP ? st->fscan + STEP : flim;

			mask_shapes_scan(&sc, &m->tabs, m->simd, st->fscan, step);
			st->fscan = step;
		}
		if (m->stride)
			st->lscan = mask_lit_scan(&m->lit, m->pats, m->stride, &sc, st->lscan,
						  st->fscan >= flim || st->fscan > qlim ? qlim : st->fscan,
						  lo);
		if (st->fscan >= flim)
			break;
	}
	if (pass == PASS_PAUSE)
		pause_prefix(m, &sc);
	if (sc.err)
		return st->err = sc.err;
	spans_normalize(&st->spans);
	drop_emitted(st);
	st->rescan = 0; /* every match from rescan_from on is decided */
	return emit_to(st, mem, base, P);
}

static void stream_reset(struct dbr_mask_stream *st)
{
	st->origin = st->total;
	st->out_pos = st->total;
	st->fscan = st->total;
	st->lscan = st->total;
	st->gen = 0; /* re-align the samples */
	st->tail_valid = 0;
	st->rescan = 0;
	st->spans.n = 0;
	st->nopen = 0;
	dbr_buf_reset(&st->carry);
	st->cbase = st->total;
}

static void stream_init(struct dbr_mask_stream *st, const struct dbr_mask *m,
			dbr_mask_sink_fn sink, void *arg)
{
	memset(st, 0, sizeof(*st));
	st->m = m;
	st->sink = sink;
	st->sink_arg = arg;
	dbr_buf_init(&st->carry, (size_t)-1 / 2, 1);
}

int dbr_mask_stream_new(const struct dbr_mask *m, dbr_mask_sink_fn sink,
			void *sink_arg, struct dbr_mask_stream **out)
{
	struct dbr_mask_stream *st;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!m || !sink)
		return DBR_E_INVAL;
	st = malloc(sizeof(*st));
	if (!st)
		return DBR_E_NOMEM;
	stream_init(st, m, sink, sink_arg);
	*out = st;
	return 0;
}

/* First byte the next pass may read. */
static size_t keep_from(const struct dbr_mask_stream *st)
{
	size_t k = st->out_pos > st->origin ? st->out_pos - 1 : st->origin;

	/* a rescan reads from rescan_from, and the byte before it */
	if (st->rescan && st->rescan_from <= k)
		k = st->rescan_from > st->origin ? st->rescan_from - 1 : st->origin;
	return k;
}

/* Drop the carry's dead prefix once it is worth a memmove. */
static void carry_trim(struct dbr_mask_stream *st)
{
	size_t dead = keep_from(st) - st->cbase;
	struct dbr_buf *c = &st->carry;

	if (!dead || (dead < CARRY_SLACK && dead * 2 < c->len))
		return;
	memmove(c->data, c->data + dead, c->len - dead);
	dbr_wipe(c->data + c->len - dead, dead);
	c->len -= dead;
	c->data[c->len] = '\0';
	st->cbase += dead;
}

static int stream_write(struct dbr_mask_stream *st, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t h, head, chunk_start, keep;
	int rc;

	h = horizon(st->m);
	/* small writes, and the head of a large one, join the carry; a large
	 * write is then scanned where it is, so its bulk is never copied */
	head = len < 2 * (h + 1) ? len : h + 1;
	chunk_start = st->total;
	rc = dbr_buf_add(&st->carry, p, head);
	if (rc)
		return st->err = rc;
	st->total += head;
	rc = process(st, (const unsigned char *)st->carry.data, st->cbase, st->total, PASS_MORE);
	if (rc)
		return rc;
	if (head == len) {
		carry_trim(st);
		return 0;
	}
	if (keep_from(st) < chunk_start) {
		/* cannot happen (the head decided past chunk_start); be safe */
		rc = dbr_buf_add(&st->carry, p + head, len - head);
		if (rc)
			return st->err = rc;
		st->total = chunk_start + len;
		rc = process(st, (const unsigned char *)st->carry.data, st->cbase,
			     st->total, PASS_MORE);
		carry_trim(st);
		return rc;
	}
	/* out_pos - 1 >= chunk_start: buf alone holds all we need */
	st->total = chunk_start + len;
	rc = process(st, p, chunk_start, st->total, PASS_MORE);
	if (rc)
		return rc;
	keep = keep_from(st);
	dbr_buf_reset(&st->carry);
	rc = dbr_buf_add(&st->carry, p + (keep - chunk_start), st->total - keep);
	st->cbase = keep;
	if (rc)
		return st->err = rc;
	return 0;
}

int dbr_mask_stream_write(struct dbr_mask_stream *st, const void *buf, size_t len)
{
	int rc;

	if (!st || (!buf && len))
		return DBR_E_INVAL;
	if (st->err || !len)
		return st->err;
	mask_read_lock(st->m);
	rc = stream_write(st, buf, len);
	mask_unlock(st->m);
	return rc;
}

int dbr_mask_stream_flush(struct dbr_mask_stream *st)
{
	int rc;

	if (!st)
		return DBR_E_INVAL;
	if (st->err)
		return st->err;
	mask_read_lock(st->m);
	rc = process(st, (const unsigned char *)st->carry.data, st->cbase, st->total, PASS_END);
	mask_unlock(st->m);
	stream_reset(st);
	return rc;
}

int dbr_mask_stream_pause(struct dbr_mask_stream *st)
{
	const struct dbr_mask *m;
	size_t ctx, from;
	int rc;

	if (!st)
		return DBR_E_INVAL;
	if (st->err)
		return st->err;
	m = st->m;
	mask_read_lock(m);
	rc = process(st, (const unsigned char *)st->carry.data, st->cbase, st->total, PASS_PAUSE);
	if (rc) {
		mask_unlock(m);
		return rc;
	}
	/* scan the last stretch again with what comes next: everything a rule
	 * can need before a match's end (the horizon), the look-back byte
	 * and a fragment's reach before its anchor */
	ctx = horizon(m) + MASK_FRAG_BACK + 2;
	from = st->total - st->origin > ctx ? st->total - ctx : st->origin;
	/* a rule reads the byte before a match (none before the origin): it
	 * must still be in the carry */
	if (st->cbase > st->origin && from <= st->cbase)
		from = st->cbase + 1;
	st->rescan_from = from < st->total ? from : st->total;
	st->rescan = 1;
	/* a match's anchor fragment lies at most one byte before its start */
	st->fscan = st->rescan_from > st->origin ? st->rescan_from - 1 : st->rescan_from;
	st->gen = m->gen;
	if (m->stride)
		st->lscan = align_up(st->rescan_from, m->stride);
	mask_unlock(m);
	carry_trim(st);
	return 0;
}

void dbr_mask_stream_free(struct dbr_mask_stream *st)
{
	if (!st)
		return;
	dbr_buf_release(&st->carry);
	free(st->spans.v);
	dbr_wipe(st, sizeof(*st));
	free(st);
}

/* ---- one-shot ---- */

static int buf_sink(void *arg, const char *p, size_t len)
{
	return dbr_buf_add(arg, p, len);
}

int dbr_mask_has_secret(const struct dbr_mask *m, const void *text, size_t len)
{
	struct mask_spans spans = { NULL, 0, 0 };
	struct mask_scan sc;
	int found;

	if (!m || !text || len == 0)
		return 0;
	mask_read_lock(m);
	if (!m->stride) {
		mask_unlock(m);
		return 0;
	}
	/* the literal filter alone, over the whole text at once */
	memset(&sc, 0, sizeof(sc));
	sc.mem = text;
	sc.end = len;
	sc.final = 1;
	sc.spans = &spans;
	mask_lit_scan(&m->lit, m->pats, m->stride, &sc, 0, len, 0);
	mask_unlock(m);
	found = sc.err ? 1 : spans.n > 0; /* out of memory: say yes (fail closed) */
	free(spans.v);
	return found;
}

int dbr_mask_buffer(const struct dbr_mask *m, const char *in, size_t len,
		    char **out, size_t *outlen)
{
	struct dbr_buf b = DBR_BUF_INIT((size_t)-1 / 2);
	struct dbr_mask_stream st;
	int rc;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!m || !out || (!in && len))
		return DBR_E_INVAL;
	stream_init(&st, m, buf_sink, &b);
	/* the same engine as the stream, over the whole input at once */
	st.total = len;
	mask_read_lock(m);
	rc = process(&st, (const unsigned char *)in, 0, len, PASS_END);
	mask_unlock(m);
	free(st.spans.v);
	dbr_buf_release(&st.carry);
	if (!rc) {
		*out = dbr_buf_detach(&b, outlen);
		if (!*out)
			rc = DBR_E_NOMEM;
	}
	dbr_buf_release(&b);
	return rc;
}
