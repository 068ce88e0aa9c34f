/* Memory for secret bytes (secret handles, the masker's patterns). Internal
 * to libdbroker's core.
 *
 * A block comes from OpenSSL's secure heap (mlock'ed arena, guard pages,
 * excluded from core dumps) while it has room; else from a private mapping
 * of its own: excluded from core dumps and fork children (MADV_DONTDUMP,
 * MADV_WIPEONFORK) and locked when RLIMIT_MEMLOCK still allows (under
 * --strict, refused when it does not). Never the ordinary heap. Zeroed
 * when allocated, wiped when freed. Implemented in secret_heap.c with the
 * secure heap it draws on. */
#ifndef DBROKER_SECMEM_H
#define DBROKER_SECMEM_H

#include <stddef.h>

struct dbr_secmem_block {
	unsigned char *p;
	size_t len;
	int mapped; /* 1: private mapping, 0: the secure heap */
};

/* A zeroed block of len bytes into *b. Returns 0, DBR_E_NOMEM, or
 * DBR_E_SECMEM after dbr_secmem_init(..., strict = 1, ...) when the block
 * could not be locked (then nothing is allocated). */
int dbr_secmem_block_alloc(struct dbr_secmem_block *b, size_t len);

/* Wipe and release; b is reset. A block with p NULL is a no-op. */
void dbr_secmem_block_free(struct dbr_secmem_block *b);

#endif
