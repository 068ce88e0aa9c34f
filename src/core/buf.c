#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/bytes.h"

#include "dbroker/errors.h"
#include "banned.h"

void dbr_buf_init(struct dbr_buf *b, size_t max, int wipe)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->wipe = wipe;
}

int dbr_buf_grow(struct dbr_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return DBR_E_TOO_LARGE;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
	if (b->wipe) {
		/* realloc could leave the old block unwiped: copy by hand */
		p = malloc(ncap);
		if (!p)
			return DBR_E_NOMEM;
		if (b->data) {
			memcpy(p, b->data, b->len + 1);
			dbr_wipe(b->data, b->cap);
			free(b->data);
		}
	} else {
		p = realloc(b->data, ncap);
		if (!p)
			return DBR_E_NOMEM;
	}
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = ncap;
	return 0;
}

int dbr_buf_add(struct dbr_buf *b, const void *data, size_t len)
{
	int rc = dbr_buf_grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int dbr_buf_addstr(struct dbr_buf *b, const char *s)
{
	return dbr_buf_add(b, s, strlen(s));
}

int dbr_buf_addch(struct dbr_buf *b, char c)
{
	return dbr_buf_add(b, &c, 1);
}

int dbr_buf_vaddf(struct dbr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return DBR_E_INVAL;
	rc = dbr_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int dbr_buf_addf(struct dbr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dbr_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void dbr_buf_reset(struct dbr_buf *b)
{
	if (!b->data)
		return;
	if (b->wipe)
		dbr_wipe(b->data, b->cap);
	b->len = 0;
	b->data[0] = '\0';
}

void dbr_buf_release(struct dbr_buf *b)
{
	if (b->data && b->wipe)
		dbr_wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *dbr_buf_detach(struct dbr_buf *b, size_t *len)
{
	char *p;

	if (!b->data && dbr_buf_grow(b, 0))
		return NULL;
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
