/* dbroker-layer: core */
/* Small operating-system helpers every layer (and, through the host
 * services table, every plugin) shares, so each exists once. */
#ifndef DBROKER_OS_H
#define DBROKER_OS_H

#include <stddef.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write all len bytes of buf to fd, retrying short writes and EINTR, and
 * waiting for fd to take more when it is non-blocking (EAGAIN), as a
 * blocking write does. Returns 0, or DBR_E_IO (errno says why: EPIPE,
 * ENOSPC, EBADF...). */
DBR_API int dbr_write_all(int fd, const void *buf, size_t len);

/* Overwrite every "NAME=value" string in the process environment in place
 * (so /proc/self/environ no longer shows it) and remove NAME from environ
 * (so children do not inherit it). Returns how many entries were scrubbed. */
DBR_API int dbr_env_scrub(const char *name);

/* Lock (mlock) or unlock len bytes of memory at p. Returns 0, or -1 with
 * errno (ENOMEM, EPERM: RLIMIT_MEMLOCK). Made as system calls, not through
 * libc's mlock(): sanitizer runtimes replace that with a no-op, and a
 * sanitized build must lock, and run out of the limit, as a release does. */
DBR_API int dbr_lock_pages(void *p, size_t len);
DBR_API int dbr_unlock_pages(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
