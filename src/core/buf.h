/* A growing byte buffer with a size cap (after curl's dynbuf and OpenSSH's
 * sshbuf). Internal to libdbroker.
 *
 * data is NUL-terminated whenever it is non-NULL (the NUL is not counted in
 * len). A buffer created with wipe != 0 zeroes every byte it gives back:
 * on grow (old block), reset and release.
 */
#ifndef DBROKER_BUF_H
#define DBROKER_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct dbr_buf {
	char *data;
	size_t len;
	size_t cap;   /* allocated bytes, including room for the NUL */
	size_t max;   /* largest len allowed */
	int wipe;
};

#define DBR_BUF_INIT(maxlen) { NULL, 0, 0, (maxlen), 0 }
#define DBR_BUF_INIT_WIPE(maxlen) { NULL, 0, 0, (maxlen), 1 }

void dbr_buf_init(struct dbr_buf *b, size_t max, int wipe);

/* Make room for extra more bytes. Returns 0, DBR_E_TOO_LARGE (len would pass
 * max; nothing changes), DBR_E_NOMEM. */
int dbr_buf_grow(struct dbr_buf *b, size_t extra);

/* Append. Same returns as dbr_buf_grow; on failure b is unchanged. */
int dbr_buf_add(struct dbr_buf *b, const void *data, size_t len);
int dbr_buf_addstr(struct dbr_buf *b, const char *s);
int dbr_buf_addch(struct dbr_buf *b, char c);
int dbr_buf_addf(struct dbr_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int dbr_buf_vaddf(struct dbr_buf *b, const char *fmt, va_list ap);

/* Empty the buffer, keep the allocation (wiped first for wipe buffers). */
void dbr_buf_reset(struct dbr_buf *b);

/* Free (wiped first for wipe buffers) and return to the empty state. */
void dbr_buf_release(struct dbr_buf *b);

/* Hand the data to the caller (free() it; never NULL on success: an empty
 * buffer yields ""). The buffer is left empty. Returns NULL on DBR_E_NOMEM. */
char *dbr_buf_detach(struct dbr_buf *b, size_t *len);

#endif
