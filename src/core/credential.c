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
	struct dbr_secret *token;          /* pat */
	char *client_id;                   /* oauth-m2m */
	struct dbr_secret *client_secret;  /* oauth-m2m */
	const struct dbr_token_source_ops *ops;
	void *src;                         /* the token source's state */
};

static int make(char *host, const char *host_origin, const char *source,
		struct dbr_secret *token, char *client_id, struct dbr_secret *client_secret,
		struct dbr_credential **out)
{
	struct dbr_credential *cr = NULL;
	int ok = host && host_origin && source && (token || (client_id && client_secret));

	if (out)
		*out = NULL;
	if (out && ok)
		cr = calloc(1, sizeof(*cr));
	if (!cr || !(cr->source = strdup(source))) {
		free(cr);
		free(host);
		free(client_id);
		dbr_secret_free(token);
		dbr_secret_free(client_secret);
		return out && ok ? DBR_E_NOMEM : DBR_E_INVAL;
	}
	cr->host = host;
	cr->host_origin = host_origin;
	cr->token = token;
	cr->client_id = client_id;
	cr->client_secret = client_secret;
	*out = cr;
	return 0;
}

int dbr_credential_make(char *host, const char *host_origin, const char *source,
			struct dbr_secret *token, struct dbr_credential **out)
{
	return make(host, host_origin, source, token, NULL, NULL, out);
}

int dbr_credential_make_m2m(char *host, const char *host_origin, const char *source,
			    char *client_id, struct dbr_secret *client_secret,
			    struct dbr_credential **out)
{
	if (!client_id || !client_secret) {
		free(client_id);
		dbr_secret_free(client_secret);
		client_id = NULL;
		client_secret = NULL;
	}
	return make(host, host_origin, source, NULL, client_id, client_secret, out);
}

int dbr_credential_set_token_source(struct dbr_credential *cr,
				    const struct dbr_token_source_ops *ops, void *ctx)
{
	if (!cr || !cr->client_id || cr->ops || !ops || !ops->get || !ops->free) {
		if (ops && ops->free)
			ops->free(ctx);
		return DBR_E_INVAL;
	}
	cr->ops = ops;
	cr->src = ctx;
	return 0;
}

const struct dbr_secret *dbr_credential_held_bearer(const struct dbr_credential *cr)
{
	if (!cr)
		return NULL;
	if (cr->token)
		return cr->token;
	return cr->ops && cr->ops->held ? cr->ops->held(cr->src) : NULL;
}

int dbr_credential_refreshable(const struct dbr_credential *cr)
{
	return cr && cr->ops != NULL;
}

int dbr_credential_bearer(const struct dbr_credential *cr, const struct dbr_token_fetch *how,
			  const struct dbr_secret *refused, const struct dbr_secret **out,
			  struct dbr_err *err)
{
	*out = NULL;
	if (cr && cr->token) {
		*out = cr->token;
		return 0;
	}
	if (!cr || !cr->ops)
		return dbr_err_set(err, DBR_E_INVAL, "the credential has no token and no way to "
				   "mint one: resolve it with the credential chain");
	return cr->ops->get(cr->src, how, refused, out, err);
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

const char *dbr_credential_auth_type(const struct dbr_credential *cr)
{
	return cr->client_id ? "oauth-m2m" : "pat";
}

const char *dbr_credential_client_id(const struct dbr_credential *cr)
{
	return cr->client_id;
}

const struct dbr_secret *dbr_credential_client_secret(const struct dbr_credential *cr)
{
	return cr->client_secret;
}

long long dbr_credential_expires_at(const struct dbr_credential *cr)
{
	return cr->ops && cr->ops->expires_at ? cr->ops->expires_at(cr->src) : 0;
}

void dbr_credential_free(struct dbr_credential *cr)
{
	if (!cr)
		return;
	/* the source borrows the client id and secret: it goes first */
	if (cr->ops)
		cr->ops->free(cr->src);
	dbr_secret_free(cr->token);
	dbr_secret_free(cr->client_secret);
	free(cr->client_id);
	free(cr->host);
	free(cr->source);
	free(cr);
}
