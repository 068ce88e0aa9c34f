/* libcurl, loaded on first use. Internal.
 *
 * libdbroker does not link libcurl: Debian's libcurl pulls in about thirty
 * shared libraries, and loading them costs more than a keyring lookup takes.
 * Commands that never talk HTTP (auth describe with the env or keyring
 * provider, login without --verify, logout, --help) must not pay for it.
 *
 * curl_lazy.c defines the curl_* functions the library calls, with curl's own
 * prototypes and hidden visibility, so http*.c use the documented API (and
 * curl's type-checking macros) unchanged. The first call dlopen()s
 * libcurl.so.4, resolves every function it needs (all or nothing) and runs
 * curl_global_init_mem() with the wiping allocators (alloc.h). A failed load
 * is remembered; the forwarders then return curl's own failure values
 * (NULL, CURLE_FAILED_INIT, CURLUE_OUT_OF_MEMORY, -1).
 */
#ifndef DBROKER_CURL_LAZY_H
#define DBROKER_CURL_LAZY_H

#include "dbroker/errors.h"

/* Load libcurl now (thread-safe, once). Returns 0, or DBR_E_IO with a
 * message that names the library and what to install. */
int dbr_curl_load(struct dbr_err *err);

/* 1 when libcurl is loaded in this process (for tests and cleanup). */
int dbr_curl_loaded(void);

/* curl_global_cleanup() if libcurl was loaded; nothing otherwise. */
void dbr_curl_unload(void);

#endif
