/* Where secret bytes live (the blocks of secmem.h), and how well they are protected
 * (dbr_secmem_init, dbr_secmem_describe in dbroker/secret.h).
 *
 * dbr_secmem_init() decides the arena's size and whether it can be locked,
 * by locking an inaccessible mapping of that size (the kernel counts it
 * against RLIMIT_MEMLOCK as it would the arena, and faults nothing in), so
 * --strict and the warning about unlocked memory are decided at start-up.
 * The arena itself (OpenSSL's secure heap, so libcrypto) comes up with the
 * first block: a process that never holds a secret (a client of the agent)
 * never loads libcrypto. */
#include "secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto_lazy.h"
#include "dbroker/bytes.h"
#include "dbroker/os.h"
#include "dbroker/secret.h"
#include "banned.h"

/* the smallest arena worth having: one page */
#define ARENA_MIN 4096

static int secmem_state;      /* 0 not tried, 1 locked arena, -1 none */
static int arena_up;          /* 1 once the arena was set up (or tried) */
static size_t arena_bytes;    /* size of the locked arena */
static long long limit_bytes; /* RLIMIT_MEMLOCK at init, -1 unlimited */
static int mapped_unlocked;   /* a private mapping could not be locked */
static int mapped_dumpable;   /* MADV_DONTDUMP failed on a mapping */
static int strict_mode;       /* --strict: no secret in memory that is not locked */
static char description[256];

static size_t page_round(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (len + pg - 1) / pg * pg;
}

/* A private mapping of len bytes into *out: 0, DBR_E_NOMEM, or under
 * --strict DBR_E_SECMEM when it cannot be locked (the limit was enough for
 * the arena at start-up, but the arena is full, or something else in the
 * process took the limit meanwhile: a library locking pages of its own). */
static int map_alloc(size_t len, unsigned char **out)
{
	size_t sz = page_round(len);
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	*out = NULL;
	if (p == MAP_FAILED)
		return DBR_E_NOMEM;
	if (madvise(p, sz, MADV_DONTDUMP) != 0)
		mapped_dumpable = 1;
#ifdef MADV_WIPEONFORK
	(void)madvise(p, sz, MADV_WIPEONFORK);
#endif
	if (dbr_lock_pages(p, sz) != 0) {
		if (strict_mode) {
			(void)munmap(p, sz); /* nothing was written to it */
			return DBR_E_SECMEM;
		}
		mapped_unlocked = 1;
	}
	*out = p;
	return 0;
}

static int try_arena(size_t sz);

/* The arena, on the first block: one attempt. If it does not come up after
 * all (libcrypto missing, the limit taken meanwhile), blocks are private
 * mappings and dbr_secmem_describe() says what they lack. */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;

static int arena_ready(void)
{
	int up;

	pthread_mutex_lock(&arena_lock);
	if (!arena_up && secmem_state > 0) {
		arena_up = 1;
		if (!try_arena(arena_bytes)) {
			secmem_state = -1;
			arena_bytes = 0;
		}
	}
	up = secmem_state > 0;
	pthread_mutex_unlock(&arena_lock);
	return up;
}

int dbr_secmem_block_alloc(struct dbr_secmem_block *b, size_t len)
{
	int rc = 0;

	b->len = len;
	b->mapped = 0;
	b->p = NULL;
	if (arena_ready()) {
		b->p = dbr_crypto_secure_zalloc(len);
		/* the arena is full: OpenSSL falls back to the ordinary heap */
		if (b->p && !dbr_crypto_secure_allocated(b->p)) {
			dbr_crypto_clear_free(b->p, len);
			b->p = NULL;
		}
	}
	if (!b->p) {
		rc = map_alloc(len, &b->p);
		b->mapped = 1;
	}
	if (rc)
		b->len = 0;
	return rc;
}

void dbr_secmem_block_free(struct dbr_secmem_block *b)
{
	if (!b->p)
		return;
	if (b->mapped) {
		size_t sz = page_round(b->len);

		dbr_wipe(b->p, sz);
		(void)dbr_unlock_pages(b->p, sz);
		(void)munmap(b->p, sz);
	} else {
		dbr_crypto_secure_clear_free(b->p, b->len);
	}
	b->p = NULL;
	b->len = 0;
}

/* Bytes this process has locked already (VmLck), or 0 if unknown. */
static long long locked_now(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Largest power of two <= n (n >= 1). */
static size_t pow2_floor(size_t n)
{
	size_t p = 1;

	while (p <= n / 2)
		p <<= 1;
	return p;
}

/* Try an arena of sz bytes (a power of two): 1 if it is up and locked. */
static int try_arena(size_t sz)
{
	int rc = dbr_crypto_secure_init(sz, 32);

	if (rc == 1)
		return 1;
	/* 2: up, but not locked (or not excluded from dumps): not what the
	 * arena is for; our own mappings say exactly what they lack */
	if (rc == 2)
		dbr_crypto_secure_done();
	return 0;
}

/* 1 if an arena of sz bytes could be locked now: OpenSSL maps it with a
 * guard page either side and locks the whole mapping. An inaccessible
 * mapping locked on fault is counted against RLIMIT_MEMLOCK alike but never
 * faulted in; a kernel without mlock2() (before 4.4) locks it readable,
 * which maps the shared zero page. */
static int can_lock(size_t sz)
{
	size_t len = sz + 2 * (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	if (p == MAP_FAILED)
		return 0;
	ok = mlock2(p, len, MLOCK_ONFAULT) == 0;
	if (!ok && (errno == ENOSYS || errno == EINVAL))
		ok = mprotect(p, len, PROT_READ) == 0 && dbr_lock_pages(p, len) == 0;
	if (ok)
		(void)dbr_unlock_pages(p, len);
	(void)munmap(p, len);
	return ok;
}

int dbr_secmem_init(size_t arena_size, int strict, int *locked, struct dbr_err *err)
{
	struct rlimit rl;
	size_t sz = 1;

	if (locked)
		*locked = 0;
	/* from now on a block that cannot be locked is refused, not mapped */
	if (strict)
		strict_mode = 1;
	if (secmem_state == 0) {
		limit_bytes = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			      ? (long long)rl.rlim_cur : -1;
		while (sz < arena_size)
			sz <<= 1;
		secmem_state = -1;
		if (can_lock(sz)) {
			secmem_state = 1;
		} else if (limit_bytes >= 0) {
			/* what RLIMIT_MEMLOCK still allows, one page kept back */
			long long room = limit_bytes - locked_now() - ARENA_MIN;

			if (room >= ARENA_MIN && (size_t)room < sz) {
				for (sz = pow2_floor((size_t)room); sz >= ARENA_MIN; sz /= 2)
					if (can_lock(sz))
						break;
				if (sz >= ARENA_MIN)
					secmem_state = 1;
			}
		}
		arena_bytes = secmem_state > 0 ? sz : 0;
	}
	if (secmem_state < 0 && strict)
		return dbr_err_set(err, DBR_E_SECMEM,
				   "cannot lock memory for secrets and --strict is set: "
				   "raise the locked-memory limit (ulimit -l) or drop --strict");
	if (locked)
		*locked = secmem_state > 0;
	return 0;
}

int dbr_secmem_locked(void)
{
	return secmem_state > 0 && (!arena_up || dbr_crypto_secure_initialized());
}

int dbr_secmem_start(struct dbr_err *err)
{
	int rc = dbr_crypto_load(err);

	if (!rc)
		(void)arena_ready();
	return rc;
}

void dbr_secmem_relock(void)
{
	char line[8192];
	void *probe;
	FILE *f;

	if (!dbr_crypto_secure_initialized() || !(probe = dbr_crypto_secure_zalloc(1)))
		return;
	if (!dbr_crypto_secure_allocated(probe)) {
		dbr_crypto_clear_free(probe, 1);
		return;
	}
	/* the arena is the mapping that holds one of its blocks */
	if ((f = fopen("/proc/self/maps", "re"))) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long lo, hi;

			if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && (uintptr_t)probe >= lo &&
			    (uintptr_t)probe < hi) {
				(void)dbr_lock_pages((void *)lo, hi - lo);
				break;
			}
		}
		fclose(f);
	}
	dbr_crypto_secure_clear_free(probe, 1);
}

/* "64 KiB", "unlimited" */
static const char *limit_text(char *buf, size_t n)
{
	if (limit_bytes < 0)
		snprintf(buf, n, "unlimited");
	else if (limit_bytes % 1024 == 0)
		snprintf(buf, n, "%lld KiB", limit_bytes / 1024);
	else
		snprintf(buf, n, "%lld bytes", limit_bytes);
	return buf;
}

const char *dbr_secmem_describe(void)
{
	char lim[32];
	const char *dump = mapped_dumpable ? "NOT excluded from core dumps (MADV_DONTDUMP "
					     "failed; the process itself is undumpable)"
					   : "excluded from core dumps";

	limit_text(lim, sizeof(lim));
	if (secmem_state > 0 && !mapped_unlocked)
		snprintf(description, sizeof(description),
			 "locked (%zu KiB arena, RLIMIT_MEMLOCK %s), %s, wiped on free",
			 arena_bytes / 1024, lim, dump);
	else if (secmem_state > 0)
		snprintf(description, sizeof(description),
			 "partly locked (%zu KiB arena full, RLIMIT_MEMLOCK %s: the rest could be "
			 "paged to swap), %s, wiped on free", arena_bytes / 1024, lim, dump);
	else
		snprintf(description, sizeof(description),
			 "NOT locked (RLIMIT_MEMLOCK %s: secrets could be paged to swap), %s, "
			 "wiped on free", lim, dump);
	return description;
}
