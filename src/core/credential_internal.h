/* Building a credential (the chain and `login --verify` do). Internal to
 * libdbroker. */
#ifndef DBROKER_CREDENTIAL_INTERNAL_H
#define DBROKER_CREDENTIAL_INTERNAL_H

#include "dbroker/credential.h"

/* A credential that takes over host (malloc'ed, normalised) and token
 * (registered with the masker) on success and on failure alike;
 * host_origin must be a string that lives as long as the program (a
 * provider's name or a literal); source is copied. *out is owned by the
 * caller (dbr_credential_free). Returns 0, DBR_E_INVAL (a NULL argument),
 * DBR_E_NOMEM. */
int dbr_credential_make(char *host, const char *host_origin, const char *source,
			struct dbr_secret *token, struct dbr_credential **out);

#endif
