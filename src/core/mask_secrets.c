/* The masker's registered secrets (mask.h): each secret's bytes and
 * encodings become literal patterns in secure memory, and the q-gram
 * tables (mask_lit.c) are rebuilt for them. Registration takes the
 * masker's lock exclusively; every scan (mask.c) holds it shared.
 */
#include "dbroker/mask.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/bytes.h"

#include "dbroker/secret.h"
#include "mask_internal.h"
#include "secret_internal.h"
#include "banned.h"

/* ---- masker ---- */

/* A registration waits for the scans under way, and new scans wait for
 * it: a stream of scans (a child's output, masked as it comes) cannot keep
 * it out. No scan takes the lock again while it holds it (a sink does not
 * mask), so a writer waiting between the two cannot deadlock one. */
static int lock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t a;
	int rc;

	if (pthread_rwlockattr_init(&a))
		return -1;
#ifdef __GLIBC__
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	rc = pthread_rwlock_init(lock, &a);
	pthread_rwlockattr_destroy(&a);
	return rc;
}

int dbr_mask_new(struct dbr_mask **out)
{
	struct dbr_mask *m;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return DBR_E_NOMEM;
	if (lock_init(&m->lock)) {
		free(m);
		return DBR_E_NOMEM;
	}
	m->gen = 1;
	m->simd = mask_shapes_simd_level();
	mask_shapes_init(&m->tabs);
	*out = m;
	return 0;
}

void dbr_mask_free(struct dbr_mask *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsecrets; i++)
		dbr_secmem_block_free(&m->blobs[i]);
	dbr_secmem_block_free(&m->lit);
	if (m->pats)
		dbr_wipe(m->pats, m->npats * sizeof(*m->pats));
	free(m->pats);
	free(m->blobs);
	pthread_rwlock_destroy(&m->lock);
	dbr_wipe(m, sizeof(*m));
	free(m);
}

/* Readers lock the masker they were handed as const: the lock is not
 * part of what they read. */
void mask_read_lock(const struct dbr_mask *m)
{
	pthread_rwlock_rdlock((pthread_rwlock_t *)&m->lock);
}

void mask_unlock(const struct dbr_mask *m)
{
	pthread_rwlock_unlock((pthread_rwlock_t *)&m->lock);
}

size_t dbr_mask_count(const struct dbr_mask *m)
{
	size_t n;

	if (!m)
		return 0;
	mask_read_lock(m);
	n = m->nsecrets;
	mask_unlock(m);
	return n;
}

size_t dbr_mask_longest(const struct dbr_mask *m)
{
	size_t n;

	if (!m)
		return 0;
	mask_read_lock(m);
	n = m->maxlen;
	mask_unlock(m);
	return n;
}

int mask_set_simd(struct dbr_mask *m, int level)
{
	int best = mask_shapes_simd_level(), simd;

	pthread_rwlock_wrlock(&m->lock);
	simd = m->simd = level < 0 ? 0 : level > best ? best : level;
	mask_unlock(m);
	return simd;
}

static int pat_known(const struct dbr_mask *m, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < m->npats; i++)
		if (m->pats[i].len == len && memcmp(m->pats[i].p, p, len) == 0)
			return 1;
	return 0;
}

/* Collects a secret's distinct new encodings into a staging area. */
struct stage {
	const struct dbr_mask *m;
	unsigned char *buf;  /* NULL while sizing */
	size_t len, cap;
	size_t offs[32], lens[32];
	size_t n;
};

static int stage_add(void *arg, const unsigned char *p, size_t len)
{
	struct stage *st = arg;

	if (!st->buf) {
		st->cap += len;
		return 0;
	}
	if (len < DBR_MASK_MIN_SECRET || pat_known(st->m, p, len))
		return 0;
	for (size_t i = 0; i < st->n; i++)
		if (st->lens[i] == len && memcmp(st->buf + st->offs[i], p, len) == 0)
			return 0;
	if (st->n == sizeof(st->offs) / sizeof(st->offs[0]) || len > st->cap - st->len)
		return DBR_E_INTERNAL;
	memcpy(st->buf + st->len, p, len);
	st->offs[st->n] = st->len;
	st->lens[st->n++] = len;
	st->len += len;
	return 0;
}

/* New q-gram tables for the current patterns. */
static int rebuild(struct dbr_mask *m)
{
	size_t need = mask_lit_size(m->npats, m->minlen);

	/* grow with room to spare: each registration rebuilds the tables
	 * and fresh memory costs page faults */
	if (m->lit.len < need) {
		struct dbr_secmem_block mm = { NULL, 0, 0 };
		int rc = dbr_secmem_block_alloc(&mm, need + need / 2);

		if (rc)
			return rc;
		dbr_secmem_block_free(&m->lit);
		m->lit = mm;
	}
	mask_lit_build(m->lit.p, m->pats, m->npats, m->minlen, &m->stride);
	return 0;
}

static int add_secret(struct dbr_mask *m, const struct dbr_secret *secret,
		      struct dbr_err *err)
{
	const unsigned char *raw;
	size_t n, need;
	struct stage st;
	struct dbr_secmem_block scratch = { NULL, 0, 0 }, staging = { NULL, 0, 0 },
			blob = { NULL, 0, 0 };
	struct dbr_secmem_block *blobs;
	struct mask_pat *pats;
	size_t old_npats, old_min, old_max;
	int rc;

	raw = dbr_secret_bytes(secret);
	n = dbr_secret_len(secret);
	if (n < DBR_MASK_MIN_SECRET)
		return dbr_err_set(err, DBR_E_SHORT_SECRET,
				   "secret is shorter than %d bytes and cannot be masked "
				   "safely: refusing to use it", DBR_MASK_MIN_SECRET);
	memset(&st, 0, sizeof(st));
	st.m = m;
	rc = dbr_secmem_block_alloc(&scratch, mask_encodings_scratch(n));
	if (!rc)
		rc = mask_encodings(raw, n, scratch.p, stage_add, &st); /* sizing */
	if (!rc)
		rc = dbr_secmem_block_alloc(&staging, st.cap);
	if (!rc) {
		st.buf = staging.p;
		rc = mask_encodings(raw, n, scratch.p, stage_add, &st);
	}
	need = st.len;
	/* nothing new: the same secret again (or one whose every form is
	 * already masked) */
	if (!rc && need)
		rc = dbr_secmem_block_alloc(&blob, need);
	if (!rc && need)
		memcpy(blob.p, staging.p, need);
	dbr_secmem_block_free(&scratch); /* wipes */
	dbr_secmem_block_free(&staging);
	if (rc)
		goto fail;
	if (!need)
		return 0;

	blobs = realloc(m->blobs, (m->nsecrets + 1) * sizeof(*blobs));
	if (!blobs) {
		rc = DBR_E_NOMEM;
		goto fail;
	}
	m->blobs = blobs;
	pats = realloc(m->pats, (m->npats + st.n) * sizeof(*pats));
	if (!pats) {
		rc = DBR_E_NOMEM;
		goto fail;
	}
	m->pats = pats;
	old_npats = m->npats;
	old_min = m->minlen;
	old_max = m->maxlen;
	for (size_t i = 0; i < st.n; i++) {
		size_t len = st.lens[i];

		m->pats[m->npats].p = blob.p + st.offs[i];
		m->pats[m->npats].len = len;
		m->npats++;
		if (!m->minlen || len < m->minlen)
			m->minlen = len;
		if (len > m->maxlen)
			m->maxlen = len;
	}
	rc = rebuild(m);
	if (rc) {
		m->npats = old_npats;
		m->minlen = old_min;
		m->maxlen = old_max;
		goto fail;
	}
	m->blobs[m->nsecrets++] = blob;
	m->gen++;
	return 0;
fail:
	dbr_secmem_block_free(&blob);
	return dbr_err_set(err, rc, "cannot register a secret with the masker: %s",
			   dbr_strerror(rc));
}

int dbr_mask_add_secret(struct dbr_mask *m, const struct dbr_secret *secret,
			struct dbr_err *err)
{
	int rc;

	if (!m || !secret)
		return dbr_err_set(err, DBR_E_INVAL, "no masker or no secret to register");
	pthread_rwlock_wrlock(&m->lock);
	rc = add_secret(m, secret, err);
	mask_unlock(m);
	return rc;
}
