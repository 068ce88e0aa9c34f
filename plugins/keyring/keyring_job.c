/* One Secret Service operation in a worker thread, and the caller's wait for
 * it. Every call is given up after KR_TIMEOUT_MS: a bus can accept a
 * connection and never answer, and dbroker must never hang. The one wait
 * that belongs to a person, the unlock prompt of an interactive run, gets
 * KR_PROMPT_MS instead, with a line on stderr; Ctrl-C (SIGTERM, SIGHUP)
 * ends any wait at once. A call that does not come back is left behind
 * with what it touches, and the keyring is not used again by this process.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keyring_internal.h"

/* how often the waiting caller looks at the interrupt flag */
#define KR_SLICE_MS 100

void job_unref(struct kr_job *job)
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

int job_fail(struct kr_job *job, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->reason, sizeof(job->reason), fmt, ap);
	va_end(ap);
	job->rc = rc;
	return rc;
}

const char *job_locked_hint(const struct kr_job *job)
{
	if (job->op == KR_ERASE)
		return KR_ERASE_HINT;
	if (job->prompted)
		return KR_PROMPT_HINT;
	return job->interactive ? KR_NO_PROMPT_HINT : KR_UNLOCK_HINT;
}

int job_locked(struct kr_job *job, const char *what)
{
	return job_fail(job, job->op == KR_RESOLVE ? DBR_E_NOT_HERE : DBR_E_PROVIDER,
			"the keyring is locked, nothing was changed while %s: %s", what,
			job_locked_hint(job));
}

/* A GError as a reason: the call was given up (resolve: "not here", so the
 * chain moves on; store and erase: DBR_E_TIMEOUT), the collection is locked,
 * the Secret Service refused, or it is not there (rc). */
int job_gerror(struct kr_job *job, int rc, const char *what, GError *gerr)
{
	const char *msg = gerr && gerr->message ? gerr->message : "unknown error";

	if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		job_fail(job, job->op == KR_RESOLVE ? DBR_E_NOT_HERE : DBR_E_TIMEOUT,
			 "the Secret Service did not answer within %d s while %s: " KR_HUNG_HINT,
			 KR_TIMEOUT_MS / 1000, what);
	else if (g_error_matches(gerr, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
		job_locked(job, what);
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
	return job->rc;
}

/* The worker tells the caller that the user is being asked (the caller's
 * deadline moves to KR_PROMPT_MS from now), or that the prompt is over (back
 * to KR_TIMEOUT_MS). Returns 0 when the caller has already given up. */
const struct kr_prompt kr_unlock_prompt = {
	"the keyring unlock prompt", "the unlock prompt",
	"unlock the keyring on the desktop and run again",
};
const struct kr_prompt kr_create_prompt = {
	"the keyring's prompt for the new keyring's password",
	"the keyring's prompt for the new keyring's password",
	"create the keyring in the desktop session and run again",
};

static int job_prompting(struct kr_job *job, const struct kr_prompt *p)
{
	int go_on;

	g_mutex_lock(&job->lock);
	go_on = job->gave_up == KR_WAITING;
	if (go_on) {
		job->prompting = p != NULL;
		if (p)
			job->prompt = p;
		job->deadline = g_get_monotonic_time() +
			(gint64)(p ? KR_PROMPT_MS : KR_TIMEOUT_MS) * 1000;
		g_cond_signal(&job->cond);
	}
	g_mutex_unlock(&job->lock);
	return go_on;
}

int kr_expect_prompt(struct kr_job *job, const struct kr_prompt *p)
{
	return job_prompting(job, p);
}

int kr_unlock(struct kr_job *job, SecretService *svc, const char *path)
{
	const gchar *paths[] = { path, NULL };
	GError *gerr = NULL;
	GVariant *ret, *unlocked = NULL, *res;
	const gchar *prompt = NULL;
	int r;

	/* org.freedesktop.Secret.Service.Unlock: what it could unlock at once,
	 * and a prompt ("/" for none) to ask the user for the rest */
	ret = g_dbus_proxy_call_sync(G_DBUS_PROXY(svc), "Unlock", g_variant_new("(^ao)", paths),
				     G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, job->cancel, &gerr);
	if (!ret) {
		job_gerror(job, DBR_E_NOT_HERE, "asking to unlock the keyring", gerr);
		return -1;
	}
	g_variant_get(ret, "(@ao&o)", &unlocked, &prompt);
	r = g_variant_n_children(unlocked) > 0;
	if (!r && prompt && strcmp(prompt, "/") != 0) {
		if (!job_prompting(job, &kr_unlock_prompt)) {
			job_fail(job, DBR_E_TIMEOUT, "given up before the unlock prompt");
			r = -1;
			goto out;
		}
		job->prompted = 1;
		/* cancelling dismisses the prompt on the desktop */
		res = secret_service_prompt_at_dbus_path_sync(svc, prompt, job->cancel,
							      G_VARIANT_TYPE("ao"), &gerr);
		job_prompting(job, NULL);
		if (gerr) {
			job_gerror(job, DBR_E_NOT_HERE, "waiting at the unlock prompt", gerr);
			r = -1;
		} else { /* NULL: dismissed */
			r = res && g_variant_n_children(res) > 0;
		}
		if (res)
			g_variant_unref(res);
	}
out:
	g_variant_unref(unlocked);
	g_variant_unref(ret);
	return r;
}

static gpointer worker(gpointer data)
{
	struct kr_job *job = data;

	job->run(job);
	g_mutex_lock(&job->lock);
	job->done = 1;
	g_cond_signal(&job->cond);
	g_mutex_unlock(&job->lock);
	job_unref(job);
	return NULL;
}

int bus_reachable(void)
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

struct kr_job *job_new(struct kr_state *st, struct dbr_host *h, enum kr_op op)
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

int kr_no_answer(struct kr_state *st, struct dbr_host *h)
{
	st->stuck = 1;
	st->svc->set_reason(h, "the Secret Service did not answer within %d s: " KR_HUNG_HINT,
			    KR_TIMEOUT_MS / 1000);
	return DBR_E_TIMEOUT;
}

static int kr_interrupted(const struct dbr_host_services *svc)
{
	/* sleep_ms answers at once when the command was interrupted */
	return DBR_HOST_HAS(svc, sleep_ms) && svc->sleep_ms(0) == DBR_E_INTERRUPTED;
}

/* Wait (job->lock held) until the job is done or the caller gives up.
 * Returns why it stopped waiting; *prompting: the worker was at the prompt. */
static enum kr_gave_up job_wait(struct kr_state *st, struct dbr_host *h, struct kr_job *job,
				int *prompting)
{
	int told = 0;

	while (!job->done) {
		gint64 now = g_get_monotonic_time(), until;
		int stop;

		*prompting = job->prompting;
		if (job->prompting && !told) {
			told = 1;
			g_mutex_unlock(&job->lock);
			st->svc->log(h, DBR_LOG_WARN, "waiting for %s on your desktop (up to %d "
				     "min; Ctrl-C to stop)", job->prompt->waiting, KR_PROMPT_MS / 60000);
			g_mutex_lock(&job->lock);
			continue;
		}
		if (now >= job->deadline)
			return KR_GAVE_UP_TIME;
		until = now + (gint64)KR_SLICE_MS * 1000;
		g_cond_wait_until(&job->cond, &job->lock, until < job->deadline ? until
				  : job->deadline);
		if (job->done)
			break;
		g_mutex_unlock(&job->lock);
		stop = kr_interrupted(st->svc);
		g_mutex_lock(&job->lock);
		*prompting = job->prompting;
		if (stop && !job->done)
			return KR_GAVE_UP_INTERRUPT;
	}
	return KR_WAITING;
}

int job_run(struct kr_state *st, struct dbr_host *h, struct kr_job *job,
	    void (*run)(struct kr_job *job))
{
	GThread *t;
	GError *gerr = NULL;
	enum kr_gave_up why;
	gint64 end;
	int done, prompting = 0;

	if (st->stuck) {
		st->svc->set_reason(h, "the Secret Service did not answer earlier in this run");
		return DBR_E_TIMEOUT;
	}
	if (kr_interrupted(st->svc)) {
		/* Ctrl-C before the call (login: after the token was read): start
		 * none, or the token the user stopped would be stored all the same */
		st->svc->set_reason(h, "interrupted before the Secret Service was asked");
		return DBR_E_INTERRUPTED;
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
	job->run = run;
	job->refs = 2;
	job->deadline = g_get_monotonic_time() + (gint64)KR_TIMEOUT_MS * 1000;
	t = g_thread_try_new("dbroker-keyring", worker, job, &gerr);
	if (!t) {
		job->refs = 1;
		st->svc->set_reason(h, "cannot start the keyring thread: %s",
				    gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		return DBR_E_NOMEM;
	}
	g_thread_unref(t); /* detached: it may outlive this call */
	g_mutex_lock(&job->lock);
	why = job_wait(st, h, job, &prompting);
	if (why != KR_WAITING) {
		job->gave_up = why;
		g_mutex_unlock(&job->lock);
		g_cancellable_cancel(job->cancel);
		g_mutex_lock(&job->lock);
		end = g_get_monotonic_time() + (gint64)KR_GRACE_MS * 1000;
		while (!job->done && g_cond_wait_until(&job->cond, &job->lock, end))
			;
	}
	done = job->done;
	g_mutex_unlock(&job->lock);
	if (why == KR_GAVE_UP_INTERRUPT) {
		st->stuck = !done;
		st->svc->set_reason(h, "interrupted while waiting for %s", prompting
				    ? job->prompt->what : "the Secret Service");
		return DBR_E_INTERRUPTED;
	}
	if (why == KR_GAVE_UP_TIME && prompting) {
		st->stuck = !done;
		st->svc->set_reason(h, "%s was not answered within %d min: %s", job->prompt->what,
				    KR_PROMPT_MS / 60000, job->prompt->todo);
		return DBR_E_TIMEOUT;
	}
	if (!done)
		return kr_no_answer(st, h);
	if (job->rc)
		st->svc->set_reason(h, "%s", job->reason);
	return job->rc;
}
