/* The credential value type (credential.h). */
#include "dbroker/credential.h"

#include <stdlib.h>
#include <string.h>

#include "credential_internal.h"
#include "dbroker/secret.h"
#include "banned.h"

struct dbr_credential {
	char *host;
	const char *host_origin;
	char *source;
	struct dbr_secret *token;
};

int dbr_credential_make(char *host, const char *host_origin, const char *source,
			struct dbr_secret *token, struct dbr_credential **out)
{
	struct dbr_credential *cr = NULL;

	if (out)
		*out = NULL;
	if (!out || !host || !host_origin || !source || !token) {
		free(host);
		dbr_secret_free(token);
		return DBR_E_INVAL;
	}
	cr = calloc(1, sizeof(*cr));
	if (!cr || !(cr->source = strdup(source))) {
		free(cr);
		free(host);
		dbr_secret_free(token);
		return DBR_E_NOMEM;
	}
	cr->host = host;
	cr->host_origin = host_origin;
	cr->token = token;
	*out = cr;
	return 0;
}

const char *dbr_credential_host(const struct dbr_credential *cr)
{
	return cr->host;
}

const char *dbr_credential_host_origin(const struct dbr_credential *cr)
{
	return cr->host_origin;
}

const char *dbr_credential_source(const struct dbr_credential *cr)
{
	return cr->source;
}

const struct dbr_secret *dbr_credential_token(const struct dbr_credential *cr)
{
	return cr->token;
}

void dbr_credential_free(struct dbr_credential *cr)
{
	if (!cr)
		return;
	dbr_secret_free(cr->token);
	free(cr->host);
	free(cr->source);
	free(cr);
}
