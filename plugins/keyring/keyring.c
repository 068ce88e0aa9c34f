/* keyring: tokens in the freedesktop Secret Service (GNOME Keyring, KWallet)
 * through libsecret.
 *
 * One item per profile, schema "dbroker.Token" with the non-secret
 * attributes profile and host (secret-tool sees the same item), or for a
 * service principal's OAuth client secret "dbroker.ClientSecret", which
 * adds the attribute client_id (`dbroker login --oauth-m2m`). Every
 * Secret Service call is bounded (keyring_job.c): KR_TIMEOUT_MS for calls
 * that show no prompt, KR_PROMPT_MS for the user at the unlock prompt. The
 * common lookup (resolve_exact) runs asynchronously on a private main
 * context in the calling thread; everything else runs in a worker thread.
 *
 * Unlocking: only an interactive run (stdin a terminal) asks, and it asks
 * once, itself (kr_unlock): the searches and reads never unlock, so a
 * dismissed prompt is an answer, not a cue to ask again. A non-interactive
 * run never shows a prompt, also not for `login` into a locked collection
 * or into a keyring without a default collection (making one prompts).
 *
 * Answers: resolve says "not here" for everything short of a broken token
 * (no bus, no Secret Service, locked item in a non-interactive run or a
 * dismissed prompt, no answer), so the chain moves on; Ctrl-C at the
 * prompt stops it (DBR_E_INTERRUPTED). store: DBR_E_NOT_HERE when
 * unreachable, DBR_E_PROVIDER when the collection is locked, DBR_E_TIMEOUT
 * when it did not answer. erase: DBR_E_NOT_HERE only when nothing was
 * stored; unreachable is DBR_E_IO, a locked item DBR_E_PROVIDER, no answer
 * DBR_E_TIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyring_internal.h"

static const SecretSchema kr_schema = {
	"dbroker.Token",
	SECRET_SCHEMA_NONE, /* match xdg:schema too: only our items */
	{
		{ "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static const SecretSchema kr_client_schema = {
	"dbroker.ClientSecret",
	SECRET_SCHEMA_NONE,
	{
		{ "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "client_id", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* The full search looks for both kinds at once (one search: the items'
 * xdg:schema attribute tells them apart, and other programs' items are
 * skipped). */
static const SecretSchema kr_any_schema = {
	"dbroker.Token",
	SECRET_SCHEMA_DONT_MATCH_NAME,
	{
		{ "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "client_id", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* Our schema named by an item's xdg:schema attribute, or NULL. */
static const SecretSchema *kr_schema_of(GHashTable *attrs)
{
	const char *name = attrs ? g_hash_table_lookup(attrs, "xdg:schema") : NULL;

	if (name && strcmp(name, kr_schema.name) == 0)
		return &kr_schema;
	if (name && strcmp(name, kr_client_schema.name) == 0)
		return &kr_client_schema;
	return NULL;
}

static GHashTable *attrs_new(const char *profile, const char *host)
{
	GHashTable *a = g_hash_table_new(g_str_hash, g_str_equal);

	g_hash_table_insert(a, (gpointer)"profile", (gpointer)profile);
	if (host)
		g_hash_table_insert(a, (gpointer)"host", (gpointer)host);
	return a;
}

/* "HTTPS://H/" and "h" name the same workspace. */
static int same_host(const char *a, const char *b)
{
	size_t la, lb;

	if (g_ascii_strncasecmp(a, "https://", 8) == 0)
		a += 8;
	if (g_ascii_strncasecmp(b, "https://", 8) == 0)
		b += 8;
	la = strlen(a);
	lb = strlen(b);
	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

/* The common case, like `secret-tool lookup`: an unlocked item whose host
 * attribute is exactly the profile's host, read with one SearchItems and
 * one GetSecrets. It runs asynchronously on a private main context in the
 * calling thread, bounded by the same timeout, so it needs no worker thread.
 * Anything else (locked items, another spelling of the host, host-less
 * items, and the messages that explain a miss) is left to the full search
 * in the worker, which costs an item proxy (four more round trips) per
 * match. */
enum exact_result { EXACT_MISS, EXACT_FOUND, EXACT_TIMEOUT };

struct exact_op {
	struct kr_job *job;
	GHashTable *attrs;
	SecretService *svc;
	SecretValue *value;
	int done;
	int timed_out;
};

static void exact_got_secret(GObject *src, GAsyncResult *res, gpointer data)
{
	struct exact_op *op = data;

	op->value = secret_service_get_secret_for_dbus_path_finish(SECRET_SERVICE(src), res,
								   NULL);
	op->done = 1;
}

static void exact_searched(GObject *src, GAsyncResult *res, gpointer data)
{
	struct exact_op *op = data;
	gchar **unlocked = NULL;

	if (secret_service_search_for_dbus_paths_finish(SECRET_SERVICE(src), res, &unlocked,
							NULL, NULL) &&
	    unlocked && unlocked[0])
		secret_service_get_secret_for_dbus_path(op->svc, unlocked[0], op->job->cancel,
							exact_got_secret, op);
	else
		op->done = 1;
	g_strfreev(unlocked);
}

static void exact_got_service(GObject *src, GAsyncResult *res, gpointer data)
{
	struct exact_op *op = data;

	(void)src;
	op->svc = secret_service_get_finish(res, NULL);
	if (op->svc)
		secret_service_search_for_dbus_paths(op->svc, &kr_schema, op->attrs,
						     op->job->cancel, exact_searched, op);
	else
		op->done = 1;
}

/* Take v's secret as the job's password (freed and wiped by
 * secret_password_free), with its length: all of it, a NUL included. */
static void take_password(struct kr_job *job, SecretValue *v)
{
	gsize n = 0;

	job->password = secret_value_unref_to_password(v, &n);
	job->password_len = job->password ? n : 0;
}

static gboolean exact_timeout(gpointer data)
{
	struct exact_op *op = data;

	op->timed_out = 1;
	g_cancellable_cancel(op->job->cancel);
	return G_SOURCE_REMOVE;
}

static enum exact_result resolve_exact(struct kr_job *job)
{
	GMainContext *ctx = g_main_context_new();
	struct exact_op *op = g_new0(struct exact_op, 1);
	GSource *timer = g_timeout_source_new(KR_TIMEOUT_MS);
	gint64 grace_end = 0;
	enum exact_result r = EXACT_MISS;
	int timed_out;

	op->job = job;
	op->attrs = attrs_new(job->profile, job->want_host);
	g_source_set_callback(timer, exact_timeout, op, NULL);
	g_source_attach(timer, ctx);
	g_main_context_push_thread_default(ctx);
	secret_service_get(SECRET_SERVICE_OPEN_SESSION, job->cancel, exact_got_service, op);
	while (!op->done) {
		if (op->timed_out) {
			/* cancelled: give the callbacks a moment to come back */
			if (!grace_end)
				grace_end = g_get_monotonic_time() + (gint64)KR_GRACE_MS * 1000;
			else if (g_get_monotonic_time() >= grace_end)
				break;
			g_main_context_iteration(ctx, FALSE);
			g_usleep(1000);
			continue;
		}
		g_main_context_iteration(ctx, TRUE);
	}
	g_main_context_pop_thread_default(ctx);
	g_source_destroy(timer);
	g_source_unref(timer);
	if (!op->done) {
		/* a call is still out and may complete into op and ctx: leave both
		 * behind (a few bytes, once) rather than free what it will touch */
		return EXACT_TIMEOUT;
	}
	timed_out = op->timed_out;
	if (op->value && !timed_out) {
		take_password(job, op->value);
		if (job->password && job->password_len) {
			job->found_host = g_strdup(job->want_host);
			r = EXACT_FOUND;
		} else if (job->password) {
			secret_password_free(job->password);
			job->password = NULL;
		}
	} else if (op->value) {
		secret_value_unref(op->value);
	}
	if (op->svc)
		g_object_unref(op->svc);
	g_hash_table_unref(op->attrs);
	g_free(op);
	g_main_context_unref(ctx);
	return timed_out ? EXACT_TIMEOUT : r;
}

/* The picked item's secret by its D-Bus path (no unlocking there), after
 * kr_unlock asked the user when it is locked (interactive runs only). */
static void read_item(struct kr_job *job, const char *path, int locked)
{
	GError *gerr = NULL;
	SecretService *svc = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, job->cancel,
						     &gerr);
	SecretValue *v = NULL;
	int r = 1;

	if (!svc) {
		job_gerror(job, DBR_E_NOT_HERE, "reading the token", gerr);
		return;
	}
	if (locked && (r = kr_unlock(job, svc, path)) == 0)
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is locked: %s",
			 job->profile, job_locked_hint(job));
	if (r > 0)
		v = secret_service_get_secret_for_dbus_path_sync(svc, path, job->cancel, &gerr);
	g_object_unref(svc);
	if (gerr)
		job_gerror(job, DBR_E_NOT_HERE, "reading the token", gerr);
	else if (v)
		take_password(job, v);
	if (gerr && v)
		secret_value_unref(v);
}

static void run_resolve(struct kr_job *job)
{
	GError *gerr = NULL;
	GHashTable *attrs = attrs_new(job->profile, NULL), *iattrs;
	const SecretSchema *schema = &kr_schema, *kind;
	GList *items, *l;
	SecretRetrievable *pick = NULL;
	char *other = NULL, *path = NULL;
	int locked = 0;

	/* load the secrets with the search: one D-Bus round trip instead of a
	 * search plus a second lookup. Locked items come back without theirs;
	 * the search never unlocks (read_item asks, once). */
	items = secret_password_searchv_sync(&kr_any_schema, attrs,
					     SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS,
					     job->cancel, &gerr);
	g_hash_table_unref(attrs);
	if (gerr) {
		job_gerror(job, DBR_E_NOT_HERE, "searching", gerr);
		return;
	}
	for (l = items; l && !pick; l = l->next) {
		SecretRetrievable *r = l->data;
		const char *h;

		iattrs = secret_retrievable_get_attributes(r);
		h = iattrs ? g_hash_table_lookup(iattrs, "host") : NULL;
		if (!(kind = kr_schema_of(iattrs))) {
			/* another program's item with a "profile" attribute */
		} else if (!job->want_host || (h && same_host(job->want_host, h))) {
			const char *cid = iattrs ? g_hash_table_lookup(iattrs, "client_id") : NULL;

			pick = r;
			schema = kind;
			job->found_host = h && *h ? g_strdup(h) : NULL;
			if (schema == &kr_client_schema)
				job->client_id = g_strdup(cid ? cid : "");
			locked = SECRET_IS_ITEM(r) && secret_item_get_locked(SECRET_ITEM(r));
			if (SECRET_IS_ITEM(r))
				path = g_strdup(g_dbus_proxy_get_object_path(G_DBUS_PROXY(r)));
			if (!locked && SECRET_IS_ITEM(r)) {
				SecretValue *v = secret_item_get_secret(SECRET_ITEM(r));

				/* the value came with the search */
				if (v)
					take_password(job, v);
			}
		} else if (!other && h) {
			other = g_strdup(h);
		}
		if (iattrs)
			g_hash_table_unref(iattrs);
	}
	g_list_free_full(items, g_object_unref);
	if (!pick) {
		if (other)
			job_fail(job, DBR_E_NOT_HERE, "the keyring's token for profile '%s' is for "
				 "'%s', not for the profile's host '%s'", job->profile, other,
				 job->want_host);
		else
			job_fail(job, DBR_E_NOT_HERE, "no token for profile '%s' in the keyring "
				 "(store one with 'dbroker login')", job->profile);
		g_free(other);
		return;
	}
	g_free(other);
	if (locked && !job->interactive) {
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is locked and "
			 "this run is not interactive: unlock the keyring (log in to the desktop) "
			 "or run from a terminal", job->profile);
	} else if (!job->password && path) {
		read_item(job, path, locked);
	} else if (!job->password) {
		/* not a Secret Service item (another libsecret backend): ask
		 * again, for all of the value */
		SecretValue *v;

		attrs = attrs_new(job->profile, job->found_host);
		v = secret_password_lookupv_binary_sync(schema, attrs, job->cancel, &gerr);
		if (v && !gerr)
			take_password(job, v);
		else if (v)
			secret_value_unref(v);
		g_hash_table_unref(attrs);
		if (gerr)
			job_gerror(job, DBR_E_NOT_HERE, "reading the token", gerr);
	}
	g_free(path);
	if (job->rc)
		return;
	if (!job->password && locked)
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is locked: %s",
			 job->profile, job_locked_hint(job));
	else if (!job->password || !job->password_len)
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is empty: "
			 "store the token again ('dbroker login')", job->profile);
}

/* Storing into a locked collection would make libsecret show the unlock
 * prompt itself, in any run and within the short bound: look first, and
 * ask (interactive runs only) through kr_unlock. Without a default
 * collection libsecret would make one, which brings up the keyring's
 * prompt for its password: refused in a run without a terminal; in one
 * from a terminal *creating is set, so the store waits for the user.
 * Returns 0 to go on. */
static int store_unlocked(struct kr_job *job, int *creating)
{
	GError *gerr = NULL;
	SecretService *svc = secret_service_get_sync(SECRET_SERVICE_NONE, job->cancel, &gerr);
	SecretCollection *coll = NULL;
	int r = 1;

	if (svc)
		coll = secret_collection_for_alias_sync(svc, job->collection ? job->collection
							: SECRET_COLLECTION_DEFAULT,
							SECRET_COLLECTION_NONE, job->cancel, &gerr);
	if (gerr) {
		r = -1;
		job_gerror(job, DBR_E_NOT_HERE, "storing", gerr);
	} else if (!coll && !job->collection && !job->interactive) {
		/* no default collection yet: libsecret would make one, and the
		 * keyring asks for the new keyring's password, in any run */
		r = -1;
		job_fail(job, DBR_E_PROVIDER, "the keyring has no default collection, and making "
			 "one shows a prompt for its password, which a run without a terminal "
			 "never does: run 'dbroker login' from a terminal, or create the keyring "
			 "in the desktop session");
	} else if (coll && secret_collection_get_locked(coll)) {
		if (!job->interactive)
			r = 0;
		else
			r = kr_unlock(job, svc, g_dbus_proxy_get_object_path(G_DBUS_PROXY(coll)));
		if (r == 0)
			job_locked(job, "storing");
	}
	/* else unlocked, or no default collection in a run from a terminal:
	 * libsecret makes one, the keyring asking for its password */
	*creating = r > 0 && !coll && !job->collection;
	if (coll)
		g_object_unref(coll);
	if (svc)
		g_object_unref(svc);
	return r > 0 ? 0 : -1;
}

static const char *locked_item_exists(struct kr_job *job);

/* The unlocked items of the profile, of both kinds (D-Bus paths), or NULL
 * with *gerr set. */
static gchar **profile_items(SecretService *svc, struct kr_job *job, GError **gerr)
{
	GHashTable *attrs = attrs_new(job->profile, NULL);
	gchar **tok = NULL, **cli = NULL, **all = NULL;

	if (secret_service_search_for_dbus_paths_sync(svc, &kr_schema, attrs, job->cancel, &tok,
						      NULL, gerr) &&
	    secret_service_search_for_dbus_paths_sync(svc, &kr_client_schema, attrs, job->cancel,
						      &cli, NULL, gerr)) {
		GPtrArray *a = g_ptr_array_new();

		for (size_t i = 0; tok && tok[i]; i++)
			g_ptr_array_add(a, g_strdup(tok[i]));
		for (size_t i = 0; cli && cli[i]; i++)
			g_ptr_array_add(a, g_strdup(cli[i]));
		g_ptr_array_add(a, NULL);
		all = (gchar **)g_ptr_array_free(a, FALSE);
	}
	g_strfreev(tok);
	g_strfreev(cli);
	g_hash_table_unref(attrs);
	return all;
}

/* One token per profile: once the new item is stored, delete the items
 * listed before (old) but the new one itself (the target collection's item
 * with exactly the new attributes, replaced in place). Returns 0 or sets
 * the job's code. */
static int drop_old_items(SecretService *svc, struct kr_job *job, gchar **old,
			  const SecretSchema *schema, GHashTable *attrs)
{
	GError *gerr = NULL;
	gchar **now = NULL, *coll;
	size_t n;

	coll = secret_service_read_alias_dbus_path_sync(svc, job->collection ? job->collection
							: SECRET_COLLECTION_DEFAULT, job->cancel,
							&gerr);
	if (!gerr)
		secret_service_search_for_dbus_paths_sync(svc, schema, attrs, job->cancel, &now,
							  NULL, &gerr);
	n = coll ? strlen(coll) : 0;
	for (size_t i = 0; !gerr && old && old[i]; i++) {
		int keep = 0;

		/* (no alias to tell the collection by: keep every twin) */
		for (size_t j = 0; now && now[j] && !keep; j++)
			keep = strcmp(old[i], now[j]) == 0 &&
			       (!coll || (strncmp(now[j], coll, n) == 0 && now[j][n] == '/'));
		if (!keep &&
		    !secret_service_delete_item_dbus_path_sync(svc, old[i], job->cancel, &gerr) &&
		    (g_error_matches(gerr, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
		     g_error_matches(gerr, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)))
			g_clear_error(&gerr); /* gone meanwhile (another logout) */
	}
	g_strfreev(now);
	g_free(coll);
	if (gerr)
		return job_gerror(job, DBR_E_NOT_HERE, "removing the old token (the new one is "
				  "stored)", gerr);
	return 0;
}

static void run_store(struct kr_job *job)
{
	GError *gerr = NULL;
	GHashTable *attrs;
	const SecretSchema *schema = job->client_id ? &kr_client_schema : &kr_schema;
	SecretService *svc;
	gchar **old = NULL;
	int creating = 0;

	if (store_unlocked(job, &creating))
		return;
	/* making the default collection asks the user for its password: the
	 * wait of a person at a prompt, not of a call */
	if (creating && !kr_expect_prompt(job, &kr_create_prompt)) {
		job_fail(job, DBR_E_TIMEOUT, "given up before the keyring's prompt");
		return;
	}
	/* one token per profile: the items stored before (for another host, a
	 * client secret when storing a token, or the other way round) go, but
	 * only once the new one is stored: a login stopped at the prompt, or
	 * refused, must not leave the profile with no token at all */
	svc = secret_service_get_sync(SECRET_SERVICE_NONE, job->cancel, &gerr);
	if (svc)
		old = profile_items(svc, job, &gerr);
	if (gerr) {
		job_gerror(job, DBR_E_NOT_HERE, "looking for the old token", gerr);
		g_clear_object(&svc);
		return;
	}
	attrs = attrs_new(job->profile, job->host);
	if (job->client_id)
		g_hash_table_insert(attrs, (gpointer)"client_id", job->client_id);
	if (!secret_password_storev_binary_sync(schema, attrs, job->collection, job->label,
						job->value, job->cancel, &gerr)) {
		if (gerr)
			job_gerror(job, DBR_E_NOT_HERE, "storing", gerr);
		else
			job_fail(job, DBR_E_IO, "the Secret Service refused to store the token");
	} else if (drop_old_items(svc, job, old, schema, attrs) == 0) {
		/* the items of a locked collection cannot go: say so */
		job->left_locked = locked_item_exists(job);
	}
	if (creating)
		kr_expect_prompt(job, NULL);
	g_strfreev(old);
	g_object_unref(svc);
	g_hash_table_unref(attrs);
}

/* clear() skips locked items without a word: look for one of either kind
 * (paths only: no item proxies, no prompt). Returns what it holds ("token",
 * "client secret"), or NULL. */
static const char *locked_item_exists(struct kr_job *job)
{
	static const SecretSchema *const kinds[] = { &kr_schema, &kr_client_schema };
	static const char *const names[] = { "token", "client secret" };
	SecretService *svc = secret_service_get_sync(SECRET_SERVICE_NONE, job->cancel, NULL);
	const char *found = NULL;
	GHashTable *attrs;

	if (!svc)
		return NULL;
	attrs = attrs_new(job->profile, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(kinds) && !found; i++) {
		gchar **locked = NULL;

		if (secret_service_search_for_dbus_paths_sync(svc, kinds[i], attrs, job->cancel,
							      NULL, &locked, NULL) &&
		    locked && locked[0])
			found = names[i];
		g_strfreev(locked);
	}
	g_hash_table_unref(attrs);
	g_object_unref(svc);
	return found;
}

static void run_erase(struct kr_job *job)
{
	GError *gerr = NULL;
	GHashTable *attrs = attrs_new(job->profile, NULL);
	const char *locked = NULL;
	gboolean removed;

	removed = secret_password_clearv_sync(&kr_schema, attrs, job->cancel, &gerr);
	if (!gerr && secret_password_clearv_sync(&kr_client_schema, attrs, job->cancel, &gerr))
		removed = TRUE;
	g_hash_table_unref(attrs);
	/* also after a removal: an older item in another, locked collection
	 * (a login into the session collection while the default one was
	 * locked) would be used again once that collection is unlocked */
	if (!gerr)
		locked = locked_item_exists(job);
	if (gerr)
		job_gerror(job, DBR_E_IO, "removing", gerr); /* not "nothing there" */
	else if (locked)
		job_fail(job, DBR_E_PROVIDER, "%sthe keyring holds a%s %s for profile '%s' in a "
			 "locked collection; it was not removed: " KR_ERASE_HINT, removed ?
			 "removed what the unlocked collections held, but " : "", removed ?
			 "nother" : "", locked, job->profile);
	else if (!removed)
		job_fail(job, DBR_E_NOT_HERE, "no token for profile '%s' was in the keyring",
			 job->profile);
}

static int kr_init(const struct dbr_host_services *svc, struct dbr_host *h, void **state)
{
	struct kr_state *st;

	if (svc->struct_size < sizeof(*svc)) {
		svc->set_reason(h, "the host is older than this plugin (it needs ABI %d.%d)",
				DBR_PROVIDER_ABI_MAJOR, DBR_PROVIDER_ABI_MINOR);
		return DBR_E_PLUGIN_ABI;
	}
	st = g_try_new0(struct kr_state, 1);
	if (!st)
		return DBR_E_NOMEM;
	st->svc = svc;
	*state = st;
	return 0;
}

static int kr_resolve(void *state, struct dbr_host *h)
{
	struct kr_state *st = state;
	struct kr_job *job = job_new(st, h, KR_RESOLVE);
	const char *host = st->svc->config_get(h, "host");
	struct dbr_secret *tok = NULL;
	int rc;

	if (host && *host)
		job->want_host = g_strdup(host);
	rc = -1;
	if (job->want_host && !st->stuck && bus_reachable()) {
		switch (resolve_exact(job)) {
		case EXACT_FOUND:
			rc = 0;
			break;
		case EXACT_TIMEOUT:
			rc = kr_no_answer(st, h);
			break;
		case EXACT_MISS:
			break;
		}
	}
	if (rc == -1)
		rc = job_run(st, h, job, run_resolve);
	if (rc == DBR_E_TIMEOUT)
		rc = DBR_E_NOT_HERE; /* a hung keyring must not stop the chain */
	if (rc == 0) {
		rc = st->svc->secret_new(job->password, job->password_len, &tok);
		if (rc == 0 && job->found_host)
			rc = st->svc->set_host_url(h, job->found_host);
		if (rc == 0 && job->client_id && !DBR_HOST_HAS(st->svc, set_client))
			rc = DBR_E_PLUGIN_ABI; /* not reached: init checks the size */
		if (rc == 0) {
			st->svc->set_reason(h, "%sitem for profile '%s'%s", job->client_id
					    ? "client secret " : "", job->profile,
					    job->found_host ? "" : " (no host attribute)");
			rc = job->client_id ? st->svc->set_client(h, job->client_id, tok)
					    : st->svc->set_token(h, tok);
			tok = NULL;
			/* an item made by hand, without a usable client_id: say
			 * so (its value not echoed: it may hold control bytes) */
			if (rc == DBR_E_INVAL && job->client_id)
				st->svc->set_reason(h, "the keyring's client secret item for profile "
						    "'%s' has %s client_id attribute (one word of "
						    "printable ASCII, without ':'): store it again "
						    "with 'dbroker login --oauth-m2m --client-id ID'",
						    job->profile, *job->client_id ? "an invalid" : "no");
		}
		st->svc->secret_free(tok);
	}
	job_unref(job);
	return rc;
}

static const char *kr_collection(struct kr_state *st, struct dbr_host *h, int *bad)
{
	const char *c = st->svc->config_get(h, "keyring_collection");

	*bad = 0;
	if (!c || !*c || strcmp(c, "default") == 0)
		return NULL;
	if (strcmp(c, "session") == 0)
		return SECRET_COLLECTION_SESSION;
	*bad = 1;
	return NULL;
}

static int kr_store(void *state, struct dbr_host *h, const char *host_url,
		    const struct dbr_secret *token)
{
	struct kr_state *st = state;
	const unsigned char *bytes = st->svc->secret_bytes(h, token);
	size_t len = st->svc->secret_len(token);
	struct kr_job *job;
	const char *coll;
	int bad, rc;

	coll = kr_collection(st, h, &bad);
	if (bad) {
		st->svc->set_reason(h, "unknown keyring_collection '%s': use 'default' or 'session'",
				    st->svc->config_get(h, "keyring_collection"));
		return DBR_E_CONFIG;
	}
	if (!bytes || !len || !host_url) {
		st->svc->set_reason(h, "no token to store");
		return DBR_E_INVAL;
	}
	job = job_new(st, h, KR_STORE);
	job->host = g_strdup(host_url);
	job->collection = coll;
	job->client_id = g_strdup(st->svc->store_client_id(h)); /* NULL: a token */
	job->label = job->client_id
		? g_strdup_printf("dbroker client secret of %s for %s (%s)", job->client_id,
				  job->profile, host_url)
		: g_strdup_printf("dbroker token for %s (%s)", job->profile, host_url);
	/* copied into libsecret's own non-pageable memory, wiped on unref */
	job->value = secret_value_new((const gchar *)bytes, (gssize)len, "text/plain");
	rc = job_run(st, h, job, run_store);
	if (rc == 0 && job->left_locked)
		st->svc->log(h, DBR_LOG_WARN, "a locked collection of the keyring still holds an "
			     "older %s for profile '%s', which was not replaced: once that "
			     "collection is unlocked dbroker may use it; unlock the keyring and log "
			     "in again, which removes it", job->left_locked, job->profile);
	job_unref(job);
	return rc;
}

static int kr_erase(void *state, struct dbr_host *h)
{
	struct kr_state *st = state;
	struct kr_job *job = job_new(st, h, KR_ERASE);
	int rc = job_run(st, h, job, run_erase);

	job_unref(job);
	return rc;
}

static void kr_fini(void *state)
{
	struct kr_state *st = state;

	if (!st)
		return;
	g_free(st);
}

static const struct dbr_provider kr_provider = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "keyring",
	.description = "the desktop keyring (freedesktop Secret Service, via libsecret)",
	.init = kr_init,
	.resolve = kr_resolve,
	.store = kr_store,
	.erase = kr_erase,
	.fini = kr_fini,
};

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_keyring(void);

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_keyring(void)
{
	return &kr_provider;
}
