/* One dlopen/dlsym walk for the lazy loaders: see dl_load.h. */
#include "dl_load.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

int dbr_dl_load(const struct dbr_dl_lib *lib, const char *const *names, size_t n, void *table,
		size_t table_size, char *msg, size_t cap)
{
	unsigned char *slots = table;
	void *h;

	memset(table, 0, table_size);
	if (table_size != n * sizeof(void *)) {
		snprintf(msg, cap, "internal error: %zu names for a table of %zu bytes (%s)", n,
			 table_size, lib->soname);
		return -1;
	}
	h = dlopen(lib->soname, lib->flags);
	if (!h) {
		const char *why = dlerror();

		/* a loader that cannot map a library is out of address space */
		if (why && (strstr(why, "map segment") || strstr(why, "memory")))
			snprintf(msg, cap, "out of memory loading %s (%s): raise the memory limit "
				 "(ulimit -v) or free memory, then try again", lib->soname, why);
		else
			snprintf(msg, cap, "cannot load %s (%s): %s", lib->soname, why ? why : "",
				 lib->install);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		void *sym = dlsym(h, names[i]);

		if (!sym) {
			snprintf(msg, cap, "%s has no %s(): %s", lib->soname, names[i], lib->needs);
			memset(table, 0, table_size);
			return -1;
		}
		/* POSIX: a function's address from dlsym fits its pointer type;
		 * copied as bytes, so no object is written through another type */
		memcpy(slots + i * sizeof(void *), &sym, sizeof(sym));
	}
	return 0;
}
