/* Byte helpers: see dbroker/bytes.h. */
#include "dbroker/bytes.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "dbroker/errors.h"
#include "banned.h"

void dbr_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

int dbr_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	/* 1 when d is 0, without a branch on the bytes */
	return (int)(1 & (((unsigned)d - 1) >> 8));
}

int dbr_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			dbr_wipe(buf, (size_t)(p - (unsigned char *)buf));
			return DBR_E_INTERNAL;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

size_t dbr_base64_encode(char *out, const unsigned char *in, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
