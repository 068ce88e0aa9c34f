/* The agent's credentials, one entry per profile (agent_server_internal.h). */
#include "agent_server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dbroker/os.h"
#include "dbroker/runtime.h"
#include "banned.h"

/* ---- VAULT_TOKEN for every resolution --------------------------------------------
 * The Vault provider takes VAULT_TOKEN from the environment and scrubs it
 * there, as in every dbroker process. The agent resolves again and again
 * (another profile, after lock, forget, SIGUSR1 or the TTL), so it keeps the
 * value in a locked mapping of its own, excluded from core dumps, and lends
 * a copy to the environment for one resolution at a time (under
 * resolve_mu). While the agent is still single-threaded, the environment
 * gets an array with a spare slot: lending stores one pointer there and the
 * scrub shifts entries down in place, so a getenv() on another thread never
 * reads an array that was freed (setenv() could reallocate it). */

#define LENT_VAR "VAULT_TOKEN"

static char *env_kept;      /* "VAULT_TOKEN=value", or NULL */
static size_t env_kept_map; /* its mapping's size */
static char **env_array;    /* the agent's environ, one slot to spare */

static char *locked_map(size_t len, size_t *map)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), sz = (len + pg - 1) / pg * pg;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, sz, MADV_DONTDUMP);
	(void)dbr_lock_pages(p, sz);
	*map = sz;
	return p;
}

static void locked_unmap(char *p, size_t sz)
{
	if (!p)
		return;
	explicit_bzero(p, sz);
	(void)dbr_unlock_pages(p, sz);
	(void)munmap(p, sz);
}

/* Take VAULT_TOKEN out of the environment (at start, single-threaded). */
static int env_loan_init(void)
{
	extern char **environ;
	const char *v = getenv(LENT_VAR);
	size_t n = 0, len;

	if (!v || !*v || env_kept)
		return 0;
	len = strlen(LENT_VAR) + strlen(v) + 2;
	if (!(env_kept = locked_map(len, &env_kept_map)))
		return DBR_E_NOMEM;
	snprintf(env_kept, len, "%s=%s", LENT_VAR, v);
	dbr_env_scrub(LENT_VAR);
	while (environ && environ[n])
		n++;
	if (environ != env_array) {
		char **a = calloc(n + 2, sizeof(*a));

		if (!a) {
			locked_unmap(env_kept, env_kept_map);
			env_kept = NULL;
			return DBR_E_NOMEM;
		}
		if (n)
			memcpy(a, environ, n * sizeof(*a));
		environ = env_array = a;
	}
	return 0;
}

/* A copy of VAULT_TOKEN in the environment until env_return(); NULL when
 * there is none to lend. Entries only ever move down, so the slot after
 * the last one is free and the one after it NULL. */
static char *env_lend(size_t *map)
{
	extern char **environ;
	size_t n = 0, len;
	char *copy;

	if (!env_kept || environ != env_array)
		return NULL;
	len = strlen(env_kept) + 1;
	if (!(copy = locked_map(len, map)))
		return NULL;
	memcpy(copy, env_kept, len);
	while (environ[n])
		n++;
	environ[n] = copy;
	return copy;
}

/* Unlink and wipe the copy (the provider may have done so already). */
static void env_return(char *copy, size_t map)
{
	if (!copy)
		return;
	dbr_env_scrub(LENT_VAR);
	locked_unmap(copy, map);
}

static long ttl_of(const struct dbr_agent_options *o)
{
	long t = o->ttl_ms > 0 ? o->ttl_ms : DBR_AGENT_DEFAULT_TTL_MS;

	return t < DBR_AGENT_MAX_TTL_MS ? t : DBR_AGENT_MAX_TTL_MS;
}

static long reread_of(const struct dbr_agent_options *o)
{
	long t = o->reread_ms > 0 ? o->reread_ms : DBR_AGENT_DEFAULT_REREAD_MS;

	return t < DBR_AGENT_MAX_TTL_MS ? t : DBR_AGENT_MAX_TTL_MS;
}

static int log_for(const struct dbr_agent_options *o, struct dbr_mask *mask,
		   struct dbr_log **out)
{
	int rc = dbr_log_new(mask, out);

	if (rc)
		return rc;
	dbr_log_set_level(*out, o->level);
	if ((o->log_fd >= 0 && (rc = dbr_log_add_fd(*out, o->log_fd))) ||
	    (o->log_file && (rc = dbr_log_open_file(*out, o->log_file, NULL)))) {
		dbr_log_free(*out);
		*out = NULL;
	}
	return rc;
}

int agent_store_init(struct agent_store *s, const struct dbr_agent_options *opt,
		     struct dbr_err *err)
{
	memset(s, 0, sizeof(*s));
	s->opt = opt;
	if (dbr_mask_new(&s->shapes) || log_for(opt, s->shapes, &s->log)) {
		dbr_mask_free(s->shapes);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	if (env_loan_init()) {
		dbr_log_free(s->log);
		dbr_mask_free(s->shapes);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->resolve_mu, NULL);
	return 0;
}

static void entry_free(struct agent_entry *e)
{
	if (!e)
		return;
	/* the credential, then what resolved it (a provider may revoke what
	 * it obtained), then the masker with its copies of the secrets */
	dbr_credential_free(e->cred);
	dbr_chain_free(e->chain);
	dbr_config_free(e->cfg);
	dbr_log_free(e->log);
	dbr_mask_free(e->mask);
	pthread_rwlock_destroy(&e->lock);
	free(e->profile);
	free(e);
}

/* Unlink entry i from the table (under mu); freed now if unused. */
static void unlink_locked(struct agent_store *s, size_t i, struct agent_entry **to_free)
{
	struct agent_entry *e = s->e[i];

	s->e[i] = s->e[--s->n];
	s->e[s->n] = NULL;
	e->dead = 1;
	*to_free = e->refs == 0 ? e : NULL;
}

void agent_store_release(struct agent_store *s)
{
	agent_store_forget(s, NULL);
	dbr_log_free(s->log);
	dbr_mask_free(s->shapes);
	locked_unmap(env_kept, env_kept_map);
	env_kept = NULL;
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->resolve_mu);
	memset(s, 0, sizeof(*s));
}

static struct agent_entry *find_locked(struct agent_store *s, const char *profile)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i]->profile, profile) == 0)
			return s->e[i];
	return NULL;
}

/* What the status report shows of e's credential (under s->mu, or before
 * e is in the table). */
static void describe(struct agent_entry *e)
{
	snprintf(e->host, sizeof(e->host), "%s", dbr_credential_host(e->cred));
	snprintf(e->auth_type, sizeof(e->auth_type), "%s", dbr_credential_auth_type(e->cred));
	snprintf(e->source, sizeof(e->source), "%s", dbr_credential_source(e->cred));
}

/* Resolve profile from scratch into a new entry (under resolve_mu). */
/* A client reads the agent's failure as its own: say whose environment
 * and configuration it came from (a VAULT_TOKEN set in the client's shell
 * is not the agent's). */
static int resolve_failed(struct dbr_err *err, int rc, const char *profile)
{
	char why[sizeof(err->msg)];

	snprintf(why, sizeof(why), "%s", err->msg[0] ? err->msg : dbr_strerror(rc));
	return dbr_err_set(err, rc, "the agent (pid %ld) could not resolve profile '%s': %s "
			   "(it resolves with its own environment and configuration, as they "
			   "were at 'agent start': start it again with what it needs, or run "
			   "the command with --no-agent)", (long)getpid(), profile, why);
}

static int entry_new(struct agent_store *s, const char *profile, struct agent_entry **out,
		     struct dbr_err *err)
{
	const struct dbr_agent_options *o = s->opt;
	struct dbr_chain_options copt = { o->chain_spec, o->plugin_dir, 0, o->auth_type };
	struct agent_entry *e = calloc(1, sizeof(*e));
	size_t lent_map = 0;
	char *lent;
	int rc;

	*out = NULL;
	if (!e || !(e->profile = strdup(profile)) || dbr_mask_new(&e->mask) ||
	    log_for(o, e->mask, &e->log)) {
		if (e) {
			dbr_mask_free(e->mask);
			free(e->profile);
		}
		free(e);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	{
		pthread_rwlockattr_t a;

		/* a re-read must not wait behind an endless stream of calls */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&e->lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	lent = env_lend(&lent_map);
	rc = dbr_config_load(o->config_file, profile, e->log, &e->cfg, err);
	if (rc == 0)
		rc = dbr_chain_new(&copt, e->cfg, e->mask, e->log, &e->chain, err);
	if (rc == 0)
		rc = dbr_chain_resolve(e->chain, &e->cred, err);
	env_return(lent, lent_map);
	if (rc) {
		entry_free(e);
		return resolve_failed(err, rc, profile);
	}
	e->resolved_ms = dbr_mono_ms();
	e->forget_at_ms = e->resolved_ms + ttl_of(o);
	e->reread_at_ms = e->resolved_ms + reread_of(o);
	e->resolved_wall = (long long)time(NULL);
	e->reads = 1;
	describe(e);
	dbr_log_info(s->log, "agent: resolved profile '%s' (%s, from '%s', for %s)", profile,
		     dbr_credential_auth_type(e->cred), dbr_credential_source(e->cred),
		     dbr_credential_host(e->cred));
	*out = e;
	return 0;
}

/* Resolve e's profile again through its own chain (one new read for every
 * client). The old credential serves until the new one is in, and stays
 * when the new resolution fails. */
static void entry_reread(struct agent_store *s, struct agent_entry *e)
{
	struct dbr_credential *cred = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_entry shown;
	size_t lent_map = 0;
	char *lent;
	int rc;

	pthread_mutex_lock(&s->resolve_mu);
	pthread_rwlock_wrlock(&e->lock);
	if (dbr_mono_ms() < e->reread_at_ms) {
		/* another client did it meanwhile */
		pthread_rwlock_unlock(&e->lock);
		pthread_mutex_unlock(&s->resolve_mu);
		return;
	}
	lent = env_lend(&lent_map);
	rc = dbr_chain_resolve(e->chain, &cred, &err);
	env_return(lent, lent_map);
	e->reread_at_ms = dbr_mono_ms() + reread_of(s->opt);
	if (rc == 0) {
		dbr_credential_free(e->cred);
		e->cred = cred;
		shown.cred = cred;
		describe(&shown);
		dbr_log_info(s->log, "agent: read profile '%s' again (from '%s')", e->profile,
			     dbr_credential_source(cred));
	} else {
		dbr_log_warn(e->log, "agent: reading profile '%s' again failed, the credential "
			     "read before keeps serving until it expires: %s", e->profile, err.msg);
	}
	pthread_rwlock_unlock(&e->lock);
	pthread_mutex_unlock(&s->resolve_mu);
	/* the store's mutex is never taken with e->lock held (the status
	 * report takes them the other way round) */
	if (rc == 0) {
		pthread_mutex_lock(&s->mu);
		e->reads++;
		s->resolutions++;
		memcpy(e->host, shown.host, sizeof(e->host));
		memcpy(e->auth_type, shown.auth_type, sizeof(e->auth_type));
		memcpy(e->source, shown.source, sizeof(e->source));
		pthread_mutex_unlock(&s->mu);
	}
}

static struct agent_entry *take_live(struct agent_store *s, const char *profile)
{
	struct agent_entry *e, *gone = NULL;

	pthread_mutex_lock(&s->mu);
	e = find_locked(s, profile);
	if (e && dbr_mono_ms() >= e->forget_at_ms) {
		for (size_t i = 0; i < s->n; i++)
			if (s->e[i] == e)
				unlink_locked(s, i, &gone);
		e = NULL;
	}
	if (e)
		e->refs++;
	pthread_mutex_unlock(&s->mu);
	entry_free(gone);
	return e;
}

int agent_store_get(struct agent_store *s, const char *profile, struct agent_entry **out,
		    struct dbr_err *err)
{
	struct agent_entry *e;
	int rc = 0;

	*out = NULL;
	if (!(e = take_live(s, profile))) {
		/* one resolution at a time: whoever waited finds it done */
		pthread_mutex_lock(&s->resolve_mu);
		if (!(e = take_live(s, profile))) {
			pthread_mutex_lock(&s->mu);
			if (s->n == AGENT_PROFILES_MAX)
				rc = dbr_err_set(err, DBR_E_TOO_LARGE, "the agent holds %d profiles "
						 "already: run 'dbroker agent forget' first",
						 AGENT_PROFILES_MAX);
			pthread_mutex_unlock(&s->mu);
			if (rc == 0)
				rc = entry_new(s, profile, &e, err);
			if (rc == 0) {
				pthread_mutex_lock(&s->mu);
				e->refs = 1;
				s->e[s->n++] = e;
				s->resolutions++;
				pthread_mutex_unlock(&s->mu);
			}
		}
		pthread_mutex_unlock(&s->resolve_mu);
		if (rc)
			return rc;
	}
	if (dbr_mono_ms() >= e->reread_at_ms)
		entry_reread(s, e);
	*out = e;
	return 0;
}

void agent_entry_put(struct agent_store *s, struct agent_entry *e, int called)
{
	struct agent_entry *gone = NULL;

	if (!e)
		return;
	pthread_mutex_lock(&s->mu);
	e->calls += called != 0;
	if (--e->refs == 0 && e->dead)
		gone = e;
	pthread_mutex_unlock(&s->mu);
	entry_free(gone);
}

size_t agent_store_forget(struct agent_store *s, const char *profile)
{
	struct agent_entry *gone[AGENT_PROFILES_MAX];
	size_t n = 0, found = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n;) {
		if (profile && strcmp(s->e[i]->profile, profile) != 0) {
			i++;
			continue;
		}
		found++;
		unlink_locked(s, i, &gone[n]);
		if (gone[n])
			n++;
	}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		entry_free(gone[i]);
	if (found)
		dbr_log_info(s->log, "agent: forgot %s (%zu profile%s)",
			     profile ? profile : "every credential", found, found == 1 ? "" : "s");
	return found;
}

long agent_store_expire(struct agent_store *s)
{
	struct agent_entry *gone[AGENT_PROFILES_MAX];
	size_t n = 0;
	long now = dbr_mono_ms(), next = -1;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n;) {
		struct agent_entry *e = s->e[i];

		if (now >= e->forget_at_ms) {
			dbr_log_info(s->log, "agent: the credential of profile '%s' reached its TTL: "
				     "forgotten", e->profile);
			unlink_locked(s, i, &gone[n]);
			if (gone[n])
				n++;
			continue;
		}
		if (next < 0 || e->forget_at_ms - now < next)
			next = e->forget_at_ms - now;
		i++;
	}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		entry_free(gone[i]);
	return next;
}

char *agent_store_report(struct agent_store *s, long long started_wall,
			 unsigned long clients_served, unsigned long refused)
{
	cJSON *doc = cJSON_CreateObject(), *list = cJSON_CreateArray();
	long now = dbr_mono_ms();
	long long wall = (long long)time(NULL);
	char *text = NULL, *printed;

	if (!doc || !list || !cJSON_AddItemToObject(doc, "profiles", list)) {
		cJSON_Delete(list);
		goto out;
	}
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		const struct agent_entry *e = s->e[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddStringToObject(o, "profile", e->profile);
		cJSON_AddStringToObject(o, "host", e->host);
		cJSON_AddStringToObject(o, "auth_type", e->auth_type);
		cJSON_AddStringToObject(o, "source", e->source);
		cJSON_AddNumberToObject(o, "resolved_at", (double)e->resolved_wall);
		cJSON_AddNumberToObject(o, "expires_at",
					(double)(wall + (e->forget_at_ms - now) / 1000));
		cJSON_AddNumberToObject(o, "expires_in_s", (double)((e->forget_at_ms - now) / 1000));
		cJSON_AddNumberToObject(o, "reads", e->reads);
		cJSON_AddNumberToObject(o, "calls", (double)e->calls);
	}
	cJSON_AddNumberToObject(doc, "resolutions", (double)s->resolutions);
	pthread_mutex_unlock(&s->mu);
	cJSON_AddNumberToObject(doc, "pid", (double)getpid());
	cJSON_AddStringToObject(doc, "socket", s->opt->socket_path ? s->opt->socket_path : "");
	cJSON_AddNumberToObject(doc, "started_at", (double)started_wall);
	cJSON_AddNumberToObject(doc, "ttl_s", (double)(ttl_of(s->opt) / 1000));
	cJSON_AddNumberToObject(doc, "reread_s", (double)(reread_of(s->opt) / 1000));
	cJSON_AddNumberToObject(doc, "clients_served", (double)clients_served);
	cJSON_AddNumberToObject(doc, "clients_refused", (double)refused);
	printed = cJSON_PrintUnformatted(doc);
	/* cJSON's memory comes from its own hooks: hand out a plain copy */
	text = printed ? strdup(printed) : NULL;
	cJSON_free(printed);
out:
	cJSON_Delete(doc);
	return text;
}
