/* Library-wide initialisation. */
#include "dbroker/runtime.h"

#include "alloc.h"
#include "curl_lazy.h"
#include "dbroker/secret.h"
#include "version.h"
#include "banned.h"

int dbr_runtime_init(unsigned flags, int *locked, struct dbr_err *err)
{
	int rc;

	if (locked)
		*locked = 0;
	rc = dbr_alloc_install();
	if (rc)
		return dbr_err_set(err, rc,
				   "cannot install wiping allocators: OpenSSL was used before dbroker started");
	return dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, (flags & DBR_RUNTIME_STRICT) != 0,
			       NULL, locked, err);
}

void dbr_runtime_cleanup(void)
{
	dbr_curl_unload();
}

const char *dbr_version(void)
{
	return DBR_VERSION;
}
