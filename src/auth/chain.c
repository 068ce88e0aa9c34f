/* The credential chain: ordering, lazy loading, resolution. */
#include "dbroker/chain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "buf.h"
#include "chain_internal.h"
#include "credential_internal.h"
#include "dbroker/config.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "host_internal.h"
#include "oauth_internal.h"
#include "plugin_loader.h"
#include "providers.h"
#include "banned.h"

/* A slot's one-line reason; longer text is cut (it is a summary, the full
 * message travels in struct dbr_err). */
__attribute__((format(printf, 2, 3)))
static void slot_reason(struct dbr_host *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
	va_end(ap);
}

/* Split "env, vault keyring" into slots. */
static int parse_spec(struct dbr_chain *c, const char *spec, struct dbr_err *err)
{
	const char *p = spec;

	while (*p) {
		size_t len = 0;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		while (p[len] && p[len] != ',' && p[len] != ' ' && p[len] != '\t')
			len++;
		if (len > DBR_PROVIDER_NAME_MAX)
			return dbr_err_set(err, DBR_E_USAGE, "provider name '%.*s' is too long",
					   (int)len, p);
		if (c->n == DBR_CHAIN_MAX)
			return dbr_err_set(err, DBR_E_USAGE,
					   "the chain names more than %d providers", DBR_CHAIN_MAX);
		for (size_t i = 0; i < c->n; i++)
			if (strlen(c->slots[i].name) == len &&
			    memcmp(c->slots[i].name, p, len) == 0)
				return dbr_err_set(err, DBR_E_USAGE,
						   "provider '%.*s' appears twice in the chain "
						   "(from %s): name each provider once",
						   (int)len, p, c->origin);
		memcpy(c->slots[c->n].name, p, len);
		c->slots[c->n].name[len] = '\0';
		if (!dbr_provider_name_valid(c->slots[c->n].name))
			return dbr_err_set(err, DBR_E_USAGE,
					   "invalid provider name '%s' in the chain (from %s): "
					   "use lowercase names like 'env,vault,keyring,profile'",
					   c->slots[c->n].name, c->origin);
		c->slots[c->n].env = &c->env;
		c->n++;
		p += len;
	}
	if (c->n == 0)
		return dbr_err_set(err, DBR_E_USAGE,
				   "the chain (from %s) names no provider: e.g. 'env,vault,keyring'",
				   c->origin);
	return 0;
}

int dbr_chain_new(const struct dbr_chain_options *opt, struct dbr_config *cfg,
		  struct dbr_mask *mask, struct dbr_log *log, struct dbr_chain **out,
		  struct dbr_err *err)
{
	struct dbr_chain *c;
	const char *spec = NULL, *dir;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!cfg || !mask || !log)
		return dbr_err_set(err, DBR_E_INVAL, "chain needs a config, a masker and a log");
	c = calloc(1, sizeof(*c));
	if (!c)
		return DBR_E_NOMEM;
	c->env.cfg = cfg;
	c->env.mask = mask;
	c->env.log = log;
	c->env.interactive = opt ? opt->interactive : 0;
	if (opt && opt->spec && *opt->spec) {
		spec = opt->spec;
		c->origin = "--chain";
	} else if ((spec = getenv("DBROKER_CHAIN")) && *spec) {
		c->origin = "DBROKER_CHAIN";
	} else if ((spec = dbr_config_get(cfg, "broker_chain")) && *spec) {
		c->origin = "profile broker_chain";
	} else {
		spec = DBR_CHAIN_DEFAULT;
		c->origin = "default";
	}
	c->explicit_spec = strcmp(c->origin, "default") != 0;
	dir = opt && opt->plugin_dir ? opt->plugin_dir : dbr_plugin_dir_default();
	c->plugin_dir = strdup(dir);
	if (!c->plugin_dir) {
		free(c);
		return DBR_E_NOMEM;
	}
	rc = parse_spec(c, spec, err);
	if (rc == 0)
		rc = dbr_chain_auth_type_init(c, opt ? opt->auth_type : NULL, err);
	if (rc) {
		dbr_chain_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void dbr_chain_free(struct dbr_chain *c)
{
	int interrupted;

	if (!c)
		return;
	/* a provider's fini revokes what it obtained (an AppRole login's Vault
	 * token): after Ctrl-C, SIGTERM or SIGHUP that must still reach the
	 * server, within a few seconds */
	interrupted = dbr_interrupted();
	if (interrupted)
		dbr_interrupt_grace(DBR_CHAIN_CLEANUP_GRACE_MS);
	for (size_t i = 0; i < c->n; i++) {
		struct dbr_host *h = &c->slots[i];

		if (h->initialised && h->prov->fini)
			h->prov->fini(h->state);
		dbr_host_reset_result(h);
	}
	if (interrupted)
		dbr_interrupt_grace(0);
	free(c->plugin_dir);
	free(c);
}

const char *dbr_chain_plugin_dir(void)
{
	return dbr_plugin_dir_default();
}

const char *dbr_chain_origin(const struct dbr_chain *c)
{
	return c->origin;
}

/* The first key of the profile that configures provider name ("vault_path"
 * for vault), or NULL. */
static const char *configured_key(const struct dbr_chain *c, const char *name)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s_", name);
	return dbr_config_key_with_prefix(c->env.cfg, prefix);
}

const char *dbr_chain_auth_type_origin(const struct dbr_chain *c)
{
	return c && c->auth_type_origin ? c->auth_type_origin : "";
}

/* Load (built-in or plugin) and init a slot. Returns 0, DBR_E_NOT_HERE (a
 * default-chain plugin that is not installed) or an error. */
static int prepare_slot(struct dbr_chain *c, struct dbr_host *h, int named,
			struct dbr_err *err)
{
	const struct dbr_provider *p;
	int rc;

	if (h->initialised)
		return 0;
	if (!h->prov) {
		p = dbr_builtin_provider(h->name);
		if (p) {
			rc = dbr_provider_validate(p, "built-in", err);
			if (rc)
				return rc;
		} else {
			struct dbr_buf path = DBR_BUF_INIT(4096);
			struct dbr_err lerr = DBR_ERR_INIT;
			const char *key;
			struct stat st;
			int missing;

			if (dbr_buf_addf(&path, "%s/%s.so", c->plugin_dir, h->name))
				return DBR_E_NOMEM;
			missing = lstat(path.data, &st) != 0 && errno == ENOENT;
			key = configured_key(c, h->name);
			if (missing && !c->explicit_spec && !named && !key) {
				slot_reason(h, "plugin not installed (no '%s')", path.data);
				dbr_buf_release(&path);
				return DBR_E_NOT_HERE;
			}
			dbr_buf_release(&path);
			rc = dbr_plugin_load(c->plugin_dir, h->name, &p, &lerr);
			/* a source the profile configures (vault_path, ...) was asked
			 * for: a plugin that cannot run is an error, never a fallback */
			if (rc && key)
				return dbr_err_set(err, rc, "the profile sets '%s', but %s", key,
						   lerr.msg);
			if (rc)
				return dbr_err_set(err, rc, "%s", lerr.msg);
		}
		h->prov = p;
	}
	rc = h->prov->init(dbr_host_services_table(), h, &h->state);
	if (rc) {
		if (!h->reason[0])
			slot_reason(h, "initialisation failed: %s",
				 dbr_strerror(rc));
		return dbr_err_set(err, rc, "%s", h->reason);
	}
	h->initialised = 1;
	return 0;
}

/* A token or client secret stored with a host goes to that host only:
 * DATABRICKS_HOST naming another one is refused, not obeyed (it would send
 * the credential there) and not silently overridden. bound is normalised;
 * client_id is set for a client secret, NULL for a token. */
static int check_bound_host(const struct dbr_host *h, const char *bound, const char *envh,
			    const char *client_id, struct dbr_err *err)
{
	struct dbr_err nerr = DBR_ERR_INIT;
	const char *what = client_id ? "client secret" : "token";
	char *want = NULL;
	int same;

	if (!envh || !*envh)
		return 0;
	if (dbr_normalize_host(envh, &want, &nerr))
		return dbr_err_set(err, DBR_E_CONFIG, "DATABRICKS_HOST is not a workspace URL "
				   "(%s): unset it, the %s from provider '%s' is stored for '%s'",
				   nerr.msg, what, h->name, bound);
	same = strcmp(want, bound) == 0;
	if (!same)
		dbr_err_set(err, DBR_E_CONFIG, "DATABRICKS_HOST names '%s', but the %s from "
			    "provider '%s' is stored for '%s' and goes to no other host: unset "
			    "DATABRICKS_HOST, or store a %s for '%s' (dbroker login%s%s --host %s)",
			    want, what, h->name, bound, what, want,
			    client_id ? " --oauth-m2m --client-id " : "",
			    client_id ? dbr_oauth_client_id_arg(client_id) : "",
			    want);
	free(want);
	return same ? 0 : DBR_E_CONFIG;
}

/* Host precedence: the provider's (bound to the credential: DATABRICKS_HOST may
 * not name another), DATABRICKS_HOST, then the profile's host. *host is
 * malloc'ed and normalised; *origin is a literal or the provider's name. */
static int pick_host(struct dbr_chain *c, struct dbr_host *h, const char *client_id,
		     char **host, const char **origin, struct dbr_err *err)
{
	const char *raw, *envh = getenv("DATABRICKS_HOST");
	int rc;

	if (h->host_url) {
		*origin = h->prov->name;
		rc = dbr_normalize_host(h->host_url, host, err);
		if (rc == 0 && (rc = check_bound_host(h, *host, envh, client_id, err))) {
			free(*host);
			*host = NULL;
		}
		return rc;
	} else if (envh && *envh) {
		raw = envh;
		*origin = "DATABRICKS_HOST";
	} else if ((raw = dbr_config_get(c->env.cfg, "host")) && *raw) {
		*origin = "profile";
	} else {
		return dbr_err_set(err, DBR_E_INVAL,
				   "no workspace host for profile '%s': set DATABRICKS_HOST or add "
				   "'host = https://<workspace>' to the profile in '%s'",
				   dbr_config_profile(c->env.cfg), dbr_config_path(c->env.cfg));
	}
	return dbr_normalize_host(raw, host, err);
}

/* An "oauth-m2m" credential from h's client id and secret. */
static int take_client(struct dbr_chain *c, struct dbr_host *h, struct dbr_credential **out,
		       struct dbr_err *err)
{
	struct dbr_err merr = DBR_ERR_INIT;
	const char *origin = NULL;
	char *host = NULL;
	int rc;

	/* fail closed, like a token: a secret that cannot be masked is not used */
	rc = dbr_mask_add_secret(c->env.mask, h->client_secret, &merr);
	if (rc) {
		h->answer = DBR_ANSWER_ERROR;
		slot_reason(h, "client secret refused: %s", merr.msg);
		return dbr_err_set(err, rc, "the client secret from provider '%s' was refused: "
				   "%s%s", h->name, rc == DBR_E_SHORT_SECRET ? "it is too short to "
				   "be masked reliably; " : "", merr.msg);
	}
	rc = pick_host(c, h, h->client_id, &host, &origin, err);
	if (rc)
		return rc;
	rc = dbr_credential_make_m2m(host, origin, h->name, h->client_id, h->client_secret,
				     out);
	h->client_id = NULL;
	h->client_secret = NULL;
	if (rc == 0 && (rc = dbr_oauth_attach(*out, c->env.mask))) {
		dbr_credential_free(*out);
		*out = NULL;
	}
	return rc == DBR_E_NOMEM ? dbr_err_set(err, rc, "out of memory") : rc;
}

static int take_credential(struct dbr_chain *c, struct dbr_host *h,
			   struct dbr_credential **out, struct dbr_err *err)
{
	struct dbr_err merr = DBR_ERR_INIT;
	struct dbr_secret *token;
	const char *origin = NULL;
	char *host = NULL;
	int rc;

	if (!h->token) {
		h->answer = DBR_ANSWER_ERROR;
		return dbr_err_set(err, DBR_E_INTERNAL,
				   "provider '%s' answered 'found' without a token", h->name);
	}
	/* fail closed: a token that cannot be masked is not used */
	rc = dbr_mask_add_secret(c->env.mask, h->token, &merr);
	if (rc == DBR_E_SHORT_SECRET) {
		h->answer = DBR_ANSWER_ERROR;
		slot_reason(h, "token shorter than %d bytes",
			 DBR_MASK_MIN_SECRET);
		return dbr_err_set(err, rc,
				   "the token from provider '%s' is shorter than %d bytes: refusing "
				   "it, since it could not be masked reliably; check that the source "
				   "holds the whole token, not a placeholder or a cut-off paste",
				   h->name, DBR_MASK_MIN_SECRET);
	}
	if (rc) {
		h->answer = DBR_ANSWER_ERROR;
		slot_reason(h, "token refused: %s", merr.msg);
		return dbr_err_set(err, rc, "the token from provider '%s' was refused: %s",
				   h->name, merr.msg);
	}
	rc = pick_host(c, h, NULL, &host, &origin, err);
	if (rc)
		return rc;
	token = h->token;
	h->token = NULL;
	rc = dbr_credential_make(host, origin, h->name, token, out);
	return rc == DBR_E_NOMEM ? dbr_err_set(err, rc, "out of memory") : rc;
}

int dbr_chain_resolve(struct dbr_chain *c, struct dbr_credential **out,
		      struct dbr_err *err)
{
	struct dbr_buf why = DBR_BUF_INIT(8192);
	int rc, m2m = 0;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!c->auth_type)
		c->auth_type_origin = NULL;
	for (size_t i = 0; i < c->n; i++) {
		c->slots[i].answer = DBR_ANSWER_NOT_ASKED;
		dbr_host_reset_result(&c->slots[i]);
	}
	for (size_t i = 0; i < c->n; i++) {
		struct dbr_host *h = &c->slots[i];
		struct dbr_err perr = DBR_ERR_INIT;

		rc = prepare_slot(c, h, 0, &perr);
		if (rc == 0)
			rc = h->prov->resolve(h->state, h);
		if (rc == DBR_E_NOT_HERE) {
			h->answer = DBR_ANSWER_NOT_HERE;
			if (!h->reason[0])
				slot_reason(h, "nothing here");
			dbr_log_debug(c->env.log, "chain: %s: not here: %s", h->name, h->reason);
			dbr_buf_addf(&why, "\n  %s: %s", h->name, h->reason);
			continue;
		}
		if (rc) {
			h->answer = DBR_ANSWER_ERROR;
			if (!h->reason[0])
				slot_reason(h, "%s",
					 perr.msg[0] ? perr.msg : dbr_strerror(rc));
			dbr_buf_release(&why);
			return dbr_err_set(err, rc,
					   "credential provider '%s' failed: %s "
					   "(the chain stops here rather than fall back to another source)",
					   h->name, h->reason);
		}
		rc = dbr_chain_auth_type_pick(c, h, &m2m, err);
		if (rc == DBR_E_NOT_HERE) {
			char r[DBR_REASON_MAX];

			h->answer = DBR_ANSWER_NOT_HERE;
			memcpy(r, h->reason, sizeof(r));
			dbr_host_reset_result(h); /* wipes what it found */
			memcpy(h->reason, r, sizeof(r));
			dbr_buf_addf(&why, "\n  %s: %s", h->name, h->reason);
			continue;
		}
		if (rc) {
			h->answer = DBR_ANSWER_ERROR;
			dbr_buf_release(&why);
			return rc;
		}
		h->answer = DBR_ANSWER_FOUND;
		dbr_log_debug(c->env.log, "chain: %s: found", h->name);
		dbr_buf_release(&why);
		return m2m ? take_client(c, h, out, err) : take_credential(c, h, out, err);
	}
	rc = dbr_err_set(err, DBR_E_NO_CREDENTIAL,
			 "no credential found for profile '%s' (chain from %s):%s\n"
			 "store one with 'dbroker login', configure vault_addr and vault_path, "
			 "or set DATABRICKS_TOKEN (a service principal: DATABRICKS_CLIENT_ID and "
			 "DATABRICKS_CLIENT_SECRET)",
			 dbr_config_profile(c->env.cfg), c->origin, why.data ? why.data : "");
	dbr_buf_release(&why);
	return rc;
}

size_t dbr_chain_count(const struct dbr_chain *c)
{
	return c ? c->n : 0;
}

const char *dbr_chain_name(const struct dbr_chain *c, size_t i)
{
	return i < c->n ? c->slots[i].name : "";
}

enum dbr_answer dbr_chain_answer(const struct dbr_chain *c, size_t i)
{
	return i < c->n ? c->slots[i].answer : DBR_ANSWER_NOT_ASKED;
}

const char *dbr_chain_reason(const struct dbr_chain *c, size_t i)
{
	return i < c->n ? c->slots[i].reason : "";
}

const char *dbr_answer_name(enum dbr_answer a)
{
	switch (a) {
	case DBR_ANSWER_FOUND: return "found";
	case DBR_ANSWER_NOT_HERE: return "not here";
	case DBR_ANSWER_ERROR: return "error";
	default: return "not asked";
	}
}

/* The chain's slot for name, else tmp set up as a one-off slot (*fresh=1:
 * the caller finis it). */
static struct dbr_host *slot_for(struct dbr_chain *c, const char *name,
				 struct dbr_host *tmp, int *fresh, struct dbr_err *err)
{
	*fresh = 0;
	if (!name || !dbr_provider_name_valid(name)) {
		dbr_err_set(err, DBR_E_USAGE, "invalid provider name '%s'", name ? name : "");
		return NULL;
	}
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->slots[i].name, name) == 0)
			return &c->slots[i];
	memset(tmp, 0, sizeof(*tmp));
	tmp->env = &c->env;
	memcpy(tmp->name, name, strlen(name) + 1);
	*fresh = 1;
	return tmp;
}

static void slot_done(struct dbr_host *h, int fresh)
{
	if (!fresh)
		return;
	if (h->initialised && h->prov->fini)
		h->prov->fini(h->state);
	dbr_host_reset_result(h);
}

/* Store a token (client_id NULL) or an OAuth client secret. */
static int store_secret(struct dbr_chain *c, const char *provider, const char *host_url,
			const char *client_id, const struct dbr_secret *token,
			struct dbr_err *err)
{
	const char *what = client_id ? "client secret" : "token";
	struct dbr_host tmp, *h;
	char *host = NULL;
	int fresh, rc;

	if (!c || !token || dbr_secret_len(token) == 0)
		return dbr_err_set(err, DBR_E_INVAL, "nothing to store");
	if (!host_url || !*host_url)
		return dbr_err_set(err, DBR_E_INVAL, "a token is stored for a workspace host: "
				   "none given");
	rc = dbr_normalize_host(host_url, &host, err);
	if (rc)
		return rc;
	h = slot_for(c, provider, &tmp, &fresh, err);
	if (!h) {
		free(host);
		return DBR_E_USAGE;
	}
	h->reason[0] = '\0';
	rc = prepare_slot(c, h, 1, err);
	if (rc == 0 && !h->prov->store)
		rc = dbr_err_set(err, DBR_E_USAGE, "provider '%s' cannot store tokens", h->name);
	else if (rc == 0 && client_id && h->prov->abi_minor < 4)
		/* it would keep the secret as a token and lose the client id */
		rc = dbr_err_set(err, DBR_E_PLUGIN_ABI, "provider '%s' was built for ABI %u.%u and "
				 "cannot store OAuth client secrets (1.4 can): upgrade it",
				 h->name, h->prov->abi_major, h->prov->abi_minor);
	else if (rc == 0) {
		h->storing = token;
		h->storing_client_id = client_id;
		rc = h->prov->store(h->state, h, host, token);
		h->storing = NULL;
		h->storing_client_id = NULL;
		if (rc)
			dbr_err_set(err, rc, "provider '%s' could not store the %s: %s", h->name,
				    what, h->reason[0] ? h->reason : dbr_strerror(rc));
		else
			dbr_err_set(err, 0, "%s", h->reason); /* where it went, if said */
	}
	slot_done(h, fresh);
	free(host);
	return rc;
}

int dbr_chain_store(struct dbr_chain *c, const char *provider, const char *host_url,
		    const struct dbr_secret *token, struct dbr_err *err)
{
	return store_secret(c, provider, host_url, NULL, token, err);
}

int dbr_chain_store_client(struct dbr_chain *c, const char *provider, const char *host_url,
			   const char *client_id, const struct dbr_secret *client_secret,
			   struct dbr_err *err)
{
	if (!dbr_oauth_client_id_valid(client_id))
		return dbr_err_set(err, DBR_E_USAGE, "'%.64s' is not a client id: give the service "
				   "principal's application id (printable, no spaces or ':')",
				   client_id ? client_id : "");
	return store_secret(c, provider, host_url, client_id, client_secret, err);
}

int dbr_chain_erase(struct dbr_chain *c, const char *provider, struct dbr_err *err)
{
	struct dbr_host tmp, *h;
	int fresh, rc;

	if (!c)
		return DBR_E_INVAL;
	h = slot_for(c, provider, &tmp, &fresh, err);
	if (!h)
		return DBR_E_USAGE;
	h->reason[0] = '\0';
	rc = prepare_slot(c, h, 1, err);
	if (rc == 0 && !h->prov->erase)
		rc = dbr_err_set(err, DBR_E_USAGE, "provider '%s' cannot remove tokens", h->name);
	else if (rc == 0) {
		rc = h->prov->erase(h->state, h);
		if (rc == DBR_E_NOT_HERE)
			dbr_err_set(err, rc, "%s", h->reason[0] ? h->reason
				    : "nothing was stored");
		else if (rc)
			dbr_err_set(err, rc, "provider '%s' could not remove the token: %s",
				    h->name, h->reason[0] ? h->reason : dbr_strerror(rc));
	}
	slot_done(h, fresh);
	return rc;
}

int dbr_credential_new(const char *host_url, const struct dbr_secret *token,
		       const char *source, struct dbr_credential **out, struct dbr_err *err)
{
	struct dbr_secret *copy = NULL;
	char *host = NULL;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!host_url || !token || !source || !dbr_provider_name_valid(source))
		return dbr_err_set(err, DBR_E_INVAL, "a credential needs a host, a token and a source");
	rc = dbr_normalize_host(host_url, &host, err);
	if (rc)
		return rc;
	rc = dbr_secret_dup(token, &copy);
	if (rc) {
		free(host);
		return rc;
	}
	return dbr_credential_make(host, "login", source, copy, out);
}

int dbr_credential_new_m2m(const char *host_url, const char *client_id,
			   const struct dbr_secret *client_secret, const char *source,
			   struct dbr_mask *mask, struct dbr_credential **out,
			   struct dbr_err *err)
{
	struct dbr_secret *copy = NULL;
	char *host = NULL, *id = NULL;
	int rc;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!host_url || !client_secret || !source || !mask || !dbr_provider_name_valid(source))
		return dbr_err_set(err, DBR_E_INVAL, "a credential needs a host, a client secret, "
				   "a source and a masker");
	if (!dbr_oauth_client_id_valid(client_id))
		return dbr_err_set(err, DBR_E_USAGE, "'%.64s' is not a client id: give the service "
				   "principal's application id (printable, no spaces or ':')",
				   client_id ? client_id : "");
	rc = dbr_normalize_host(host_url, &host, err);
	if (rc)
		return rc;
	if (!(id = strdup(client_id)) || (rc = dbr_secret_dup(client_secret, &copy))) {
		free(host);
		free(id);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	rc = dbr_credential_make_m2m(host, "login", source, id, copy, out);
	if (rc == 0 && (rc = dbr_oauth_attach(*out, mask))) {
		dbr_credential_free(*out);
		*out = NULL;
	}
	return rc ? dbr_err_set(err, rc, "%s", dbr_strerror(rc)) : 0;
}
