/* dbroker-layer: core */
/* Byte helpers every layer uses without loading libcrypto: wiping,
 * constant-time comparison, random bytes from the kernel, base64. */
#ifndef DBROKER_BYTES_H
#define DBROKER_BYTES_H

#include <stddef.h>

#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero p[0..n) in a way the compiler may not drop (explicit_bzero). p may be
 * NULL when n is 0. */
DBR_API void dbr_wipe(void *p, size_t n);

/* 1 if a[0..n) equals b[0..n), else 0; the time taken depends on n only. */
DBR_API int dbr_ct_equal(const void *a, const void *b, size_t n);

/* Fill buf[0..n) from the kernel's random generator (getrandom(2), retried
 * on EINTR and short reads). Returns 0, or DBR_E_INTERNAL when the kernel
 * gives none (buf is then wiped). */
DBR_API int dbr_random_bytes(void *buf, size_t n);

/* Standard base64 (RFC 4648 section 4, '=' padding) of in[0..n) into out,
 * NUL-terminated. out must hold DBR_BASE64_LEN(n) + 1 bytes. Returns the
 * length written, without the NUL (as OpenSSL's EVP_EncodeBlock). */
#define DBR_BASE64_LEN(n) (((n) + 2) / 3 * 4)
DBR_API size_t dbr_base64_encode(char *out, const unsigned char *in, size_t n);

#ifdef __cplusplus
}
#endif

#endif
