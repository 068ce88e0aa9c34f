/* Loading a shared library and a table of its functions by name: the one
 * dlopen/dlsym walk of the lazy loaders (crypto_lazy.c, net/curl_lazy.c,
 * serve/mhd_lazy.c). Internal to libdbroker (every layer). */
#ifndef DBROKER_DL_LOAD_H
#define DBROKER_DL_LOAD_H

#include <stddef.h>

/* What the messages say about one library (static strings). */
struct dbr_dl_lib {
	const char *soname;   /* "libcurl.so.4" */
	int flags;            /* dlopen flags: RTLD_LAZY | RTLD_LOCAL ... */
	const char *install;  /* "install libcurl with OpenSSL (Debian: ...)" */
	const char *needs;    /* "dbroker needs libcurl 7.83 or newer" */
};

/* dlopen lib->soname and look up names[0..n) into table, the loader's
 * struct of n function pointers in the same order (table_size is its
 * sizeof, checked against n). Returns 0, or -1 with msg (cap bytes) saying
 * why and what to do: "cannot load SONAME (why): INSTALL", "out of memory
 * loading SONAME (why): raise the memory limit (ulimit -v) ..." when the
 * loader could not map it, or "SONAME has no NAME(): NEEDS"; the table is
 * then all NULL (never half-loaded). The library stays loaded. */
int dbr_dl_load(const struct dbr_dl_lib *lib, const char *const *names, size_t n, void *table,
		size_t table_size, char *msg, size_t cap);

#endif
