/* keyring: tokens in the freedesktop Secret Service (GNOME Keyring, KWallet)
 * through libsecret.
 *
 * One item per profile, schema "dbroker.Token" with the non-secret
 * attributes profile and host (secret-tool sees the same item), or for a
 * service principal's OAuth client secret "dbroker.ClientSecret", which
 * adds the attribute client_id (`dbroker login --oauth-m2m`). Every
 * Secret Service call is given up after KR_TIMEOUT_MS: a locked collection
 * can wait forever for a prompt and a bus can accept a connection and never
 * answer, and dbroker must never hang. The common lookup (resolve_exact) runs
 * asynchronously on a private main context in the calling thread; everything
 * else runs in a worker thread. A call that does not come back is left
 * behind with what it touches, and the keyring is not used again by this
 * process.
 *
 * Answers: resolve says "not here" for everything short of a broken token
 * (no bus, no Secret Service, locked item in a non-interactive run, no
 * answer), so the chain moves on. store: DBR_E_NOT_HERE when unreachable,
 * DBR_E_PROVIDER when the collection is locked, DBR_E_TIMEOUT when it did not
 * answer. erase: DBR_E_NOT_HERE only when nothing was stored; unreachable is
 * DBR_E_IO, a locked item DBR_E_PROVIDER, no answer DBR_E_TIMEOUT.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* secret-paths.h (search by D-Bus paths, no item proxies) is marked
 * unstable; it has been unchanged since libsecret 0.7. */
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>

#include "dbroker/provider.h"

#define KR_TIMEOUT_MS 3000
#define KR_GRACE_MS 300
#define KR_REASON_MAX 400

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

struct kr_state {
	const struct dbr_host_services *svc;
	int stuck; /* a worker never came back: do not touch libsecret again */
};

enum kr_op { KR_RESOLVE, KR_STORE, KR_ERASE };

/* One Secret Service operation, shared by the caller and the worker; the
 * last of the two to let go frees it. */
struct kr_job {
	GMutex lock;
	GCond cond;
	int refs;
	int done;
	GCancellable *cancel;

	enum kr_op op;
	int interactive;
	char *profile;
	char *want_host;       /* resolve: the profile's host, or NULL */
	char *host;            /* store: the normalised host */
	char *label;           /* store */
	const char *collection;/* store: NULL (default) or an alias (static) */
	SecretValue *value;    /* store: the token, in libsecret's secure memory */
	char *client_id;       /* store, resolve: a client secret's client id */

	int rc;
	char reason[KR_REASON_MAX];
	gchar *password;       /* resolve: nonpageable, secret_password_free */
	char *found_host;      /* resolve: the item's host attribute */
};

static void job_unref(struct kr_job *job)
{
	int last;

	g_mutex_lock(&job->lock);
	last = --job->refs == 0;
	g_mutex_unlock(&job->lock);
	if (!last)
		return;
	if (job->password)
		secret_password_free(job->password);
	if (job->value)
		secret_value_unref(job->value);
	g_clear_object(&job->cancel);
	g_free(job->profile);
	g_free(job->want_host);
	g_free(job->host);
	g_free(job->label);
	g_free(job->found_host);
	g_free(job->client_id);
	g_mutex_clear(&job->lock);
	g_cond_clear(&job->cond);
	g_free(job);
}

__attribute__((format(printf, 3, 4)))
static int job_fail(struct kr_job *job, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->reason, sizeof(job->reason), fmt, ap);
	va_end(ap);
	job->rc = rc;
	return rc;
}

#define KR_UNLOCK_HINT "unlock the keyring (log in to the desktop session, or run from a " \
	"terminal to get the unlock prompt) and run again"
/* a run from a terminal that was asked to unlock and is still locked */
#define KR_PROMPT_HINT "the unlock prompt was dismissed or could not be shown (it needs " \
	"the desktop session): unlock the keyring there and run again"
/* logout never asks to unlock */
#define KR_ERASE_HINT "logout does not ask to unlock it: unlock the keyring in the desktop " \
	"session (it unlocks when you log in there) and run again"
#define KR_HUNG_HINT "check that the keyring daemon runs and no unlock prompt is waiting, " \
	"then run again; until then use another provider (--chain)"

/* A GError as a reason: the call was given up (resolve: "not here", so the
 * chain moves on; store and erase: DBR_E_TIMEOUT), the collection is locked,
 * the Secret Service refused, or it is not there (rc). */
static int job_gerror(struct kr_job *job, int rc, const char *what, GError *gerr)
{
	const char *msg = gerr && gerr->message ? gerr->message : "unknown error";

	if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		job_fail(job, job->op == KR_RESOLVE ? DBR_E_NOT_HERE : DBR_E_TIMEOUT,
			 "the Secret Service did not answer within %d s while %s: " KR_HUNG_HINT,
			 KR_TIMEOUT_MS / 1000, what);
	else if (g_error_matches(gerr, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
		job_fail(job, job->op == KR_RESOLVE ? DBR_E_NOT_HERE : DBR_E_PROVIDER,
			 "the keyring is locked, nothing was changed while %s: %s", what,
			 job->op == KR_ERASE ? KR_ERASE_HINT
			 : job->interactive ? KR_PROMPT_HINT : KR_UNLOCK_HINT);
	else if (gerr && gerr->domain == G_DBUS_ERROR &&
		 gerr->code != G_DBUS_ERROR_SERVICE_UNKNOWN &&
		 gerr->code != G_DBUS_ERROR_NAME_HAS_NO_OWNER &&
		 gerr->code != G_DBUS_ERROR_NO_SERVER && gerr->code != G_DBUS_ERROR_NO_REPLY)
		job_fail(job, job->op == KR_RESOLVE ? DBR_E_NOT_HERE : DBR_E_IO,
			 "the Secret Service refused while %s: %s", what, msg);
	else
		job_fail(job, rc, "no Secret Service reachable while %s: %s; start a keyring daemon "
			 "in this session (gnome-keyring-daemon --start --components=secrets) or "
			 "use another provider (--chain)", what, msg);
	g_clear_error(&gerr);
	return rc;
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
	gsize n = 0;
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
		/* freed (and wiped) by secret_password_free */
		job->password = secret_value_unref_to_password(op->value, &n);
		if (job->password && job->password[0]) {
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

static void run_resolve(struct kr_job *job)
{
	GError *gerr = NULL;
	GHashTable *attrs = attrs_new(job->profile, NULL), *iattrs;
	SecretSearchFlags flags = SECRET_SEARCH_ALL;
	const SecretSchema *schema = &kr_schema, *kind;
	GList *items, *l;
	SecretRetrievable *pick = NULL;
	char *other = NULL;
	int locked = 0;

	if (job->interactive)
		flags |= SECRET_SEARCH_UNLOCK;
	/* load the secrets with the search: one D-Bus round trip instead of a
	 * search plus a second lookup */
	flags |= SECRET_SEARCH_LOAD_SECRETS;
	items = secret_password_searchv_sync(&kr_any_schema, attrs, flags, job->cancel, &gerr);
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
			if (!locked && SECRET_IS_ITEM(r)) {
				SecretValue *v = secret_item_get_secret(SECRET_ITEM(r));
				gsize n = 0;

				/* the value came with the search; take it as a
				 * password freed (and wiped) by secret_password_free */
				if (v)
					job->password = secret_value_unref_to_password(v, &n);
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
		return;
	}
	if (!job->password) {
		/* not loaded with the search (e.g. unlocked just now): ask again */
		attrs = attrs_new(job->profile, job->found_host);
		job->password = secret_password_lookupv_nonpageable_sync(schema, attrs,
									  job->cancel, &gerr);
		g_hash_table_unref(attrs);
		if (gerr) {
			job_gerror(job, DBR_E_NOT_HERE, "reading the token", gerr);
			return;
		}
	}
	if (!job->password && locked)
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is locked: "
			 KR_PROMPT_HINT, job->profile);
	else if (!job->password || !job->password[0])
		job_fail(job, DBR_E_NOT_HERE, "the keyring item for profile '%s' is empty: "
			 "store the token again ('dbroker login')", job->profile);
}

static void run_store(struct kr_job *job)
{
	GError *gerr = NULL;
	GHashTable *attrs = attrs_new(job->profile, NULL);

	/* one token per profile: drop one stored for another host first, and
	 * a client secret (or a token, when storing one of those) */
	secret_password_clearv_sync(&kr_schema, attrs, job->cancel, &gerr);
	if (!gerr)
		secret_password_clearv_sync(&kr_client_schema, attrs, job->cancel, &gerr);
	g_hash_table_unref(attrs);
	if (gerr) {
		job_gerror(job, DBR_E_NOT_HERE, "replacing the old token", gerr);
		return;
	}
	attrs = attrs_new(job->profile, job->host);
	if (job->client_id)
		g_hash_table_insert(attrs, (gpointer)"client_id", job->client_id);
	if (!secret_password_storev_binary_sync(job->client_id ? &kr_client_schema : &kr_schema,
						attrs, job->collection, job->label,
						job->value, job->cancel, &gerr)) {
		if (gerr)
			job_gerror(job, DBR_E_NOT_HERE, "storing", gerr);
		else
			job_fail(job, DBR_E_IO, "the Secret Service refused to store the token");
	}
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
	if (!gerr && !removed)
		locked = locked_item_exists(job);
	if (gerr)
		job_gerror(job, DBR_E_IO, "removing", gerr); /* not "nothing there" */
	else if (locked)
		job_fail(job, DBR_E_PROVIDER, "the keyring holds a %s for profile '%s' in a locked "
			 "collection; it was not removed: " KR_ERASE_HINT, locked, job->profile);
	else if (!removed)
		job_fail(job, DBR_E_NOT_HERE, "no token for profile '%s' was in the keyring",
			 job->profile);
}

static gpointer worker(gpointer data)
{
	struct kr_job *job = data;

	switch (job->op) {
	case KR_RESOLVE: run_resolve(job); break;
	case KR_STORE: run_store(job); break;
	case KR_ERASE: run_erase(job); break;
	}
	g_mutex_lock(&job->lock);
	job->done = 1;
	g_cond_signal(&job->cond);
	g_mutex_unlock(&job->lock);
	job_unref(job);
	return NULL;
}

static int bus_reachable(void)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char path[4096];
	struct stat st;

	if (addr && *addr)
		return 1;
	if (!rt || !*rt)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/bus", rt) >= sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static struct kr_job *job_new(struct kr_state *st, struct dbr_host *h, enum kr_op op)
{
	struct kr_job *job = g_new0(struct kr_job, 1);

	g_mutex_init(&job->lock);
	g_cond_init(&job->cond);
	job->refs = 1;
	job->op = op;
	job->cancel = g_cancellable_new();
	job->profile = g_strdup(st->svc->profile_name(h));
	job->interactive = st->svc->interactive(h);
	return job;
}

/* The keyring did not answer in time: never touch it again in this run. */
static int kr_no_answer(struct kr_state *st, struct dbr_host *h)
{
	st->stuck = 1;
	st->svc->set_reason(h, "the Secret Service did not answer within %d s: " KR_HUNG_HINT,
			    KR_TIMEOUT_MS / 1000);
	return DBR_E_TIMEOUT;
}

/* Run job in a worker, waiting at most KR_TIMEOUT_MS (+ a grace period after
 * cancelling). Returns the job's code, or DBR_E_TIMEOUT with the reason set
 * when the worker did not come back (the job is then the worker's). */
static int job_run(struct kr_state *st, struct dbr_host *h, struct kr_job *job)
{
	GThread *t;
	GError *gerr = NULL;
	gint64 end;
	int done;

	if (st->stuck) {
		st->svc->set_reason(h, "the Secret Service did not answer earlier in this run");
		return DBR_E_TIMEOUT;
	}
	if (!bus_reachable()) {
		st->svc->set_reason(h, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset "
				    "and there is no $XDG_RUNTIME_DIR/bus): the Secret Service "
				    "needs a desktop session, or run under dbus-run-session; "
				    "without one, 'dbroker login --store kernel' keeps the token "
				    "in the kernel keyring");
		/* logout must not claim "nothing was there" */
		return job->op == KR_ERASE ? DBR_E_IO : DBR_E_NOT_HERE;
	}
	job->refs = 2;
	t = g_thread_try_new("dbroker-keyring", worker, job, &gerr);
	if (!t) {
		job->refs = 1;
		st->svc->set_reason(h, "cannot start the keyring thread: %s",
				    gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		return DBR_E_NOMEM;
	}
	g_thread_unref(t); /* detached: it may outlive this call */
	end = g_get_monotonic_time() + (gint64)KR_TIMEOUT_MS * 1000;
	g_mutex_lock(&job->lock);
	while (!job->done && g_cond_wait_until(&job->cond, &job->lock, end))
		;
	if (!job->done) {
		g_mutex_unlock(&job->lock);
		g_cancellable_cancel(job->cancel);
		g_mutex_lock(&job->lock);
		end = g_get_monotonic_time() + (gint64)KR_GRACE_MS * 1000;
		while (!job->done && g_cond_wait_until(&job->cond, &job->lock, end))
			;
	}
	done = job->done;
	g_mutex_unlock(&job->lock);
	if (!done)
		return kr_no_answer(st, h);
	if (job->rc)
		st->svc->set_reason(h, "%s", job->reason);
	return job->rc;
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
		rc = job_run(st, h, job);
	if (rc == DBR_E_TIMEOUT)
		rc = DBR_E_NOT_HERE; /* a hung keyring must not stop the chain */
	if (rc == 0) {
		rc = st->svc->secret_new(job->password, strlen(job->password), &tok);
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
	rc = job_run(st, h, job);
	job_unref(job);
	return rc;
}

static int kr_erase(void *state, struct dbr_host *h)
{
	struct kr_state *st = state;
	struct kr_job *job = job_new(st, h, KR_ERASE);
	int rc = job_run(st, h, job);

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
