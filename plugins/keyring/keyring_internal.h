/* The keyring provider's shared state and its modules:
 *   keyring.c      schemas, the lookups, store and erase, the descriptor
 *   keyring_job.c  one Secret Service operation in a worker thread: its
 *                  bounds, the caller's wait, Ctrl-C, and the unlock prompt
 * The token is held only in libsecret's non-pageable memory (SecretValue,
 * secret_password_free) until the host's secret handle takes it. */
#ifndef DBR_KEYRING_INTERNAL_H
#define DBR_KEYRING_INTERNAL_H

/* secret-paths.h (search by D-Bus paths, no item proxies) is marked
 * unstable; it has been unchanged since libsecret 0.7. */
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>

#include "dbroker/provider.h"

/* Every call that shows no prompt: a bus that accepts a connection and
 * never answers must not hang dbroker. */
#define KR_TIMEOUT_MS 3000
/* The wait for a person at the keyring's unlock prompt: long enough to
 * notice the dialog on the desktop, switch to it and type a password; short
 * enough that a prompt nobody sees (a desktop left alone, a session reached
 * over SSH) does not hold dbroker for good. Ctrl-C ends it at once. */
#define KR_PROMPT_MS 120000
#define KR_GRACE_MS 300
#define KR_REASON_MAX 400

#define KR_UNLOCK_HINT "unlock the keyring (log in to the desktop session, or run from a " \
	"terminal to get the unlock prompt) and run again"
/* a run from a terminal that showed the unlock prompt and is still locked */
#define KR_PROMPT_HINT "the unlock prompt was dismissed or could not be shown (it needs " \
	"the desktop session): unlock the keyring there and run again"
/* a run from a terminal where the keyring offered no unlock prompt */
#define KR_NO_PROMPT_HINT "the keyring offered no unlock prompt: unlock it in the desktop " \
	"session and run again"
/* logout never asks to unlock */
#define KR_ERASE_HINT "logout does not ask to unlock it: unlock the keyring in the desktop " \
	"session (it unlocks when you log in there) and run again"
#define KR_HUNG_HINT "check that the keyring daemon runs and no unlock prompt is waiting, " \
	"then run again; until then use another provider (--chain)"

struct kr_state {
	const struct dbr_host_services *svc;
	int stuck; /* a worker never came back: do not touch libsecret again */
};

enum kr_op { KR_RESOLVE, KR_STORE, KR_ERASE };

/* Why the caller stopped waiting for a worker. */
enum kr_gave_up { KR_WAITING, KR_GAVE_UP_TIME, KR_GAVE_UP_INTERRUPT };

/* The words for a prompt the keyring shows the user. */
struct kr_prompt {
	const char *what;   /* "the keyring unlock prompt" */
	const char *waiting;/* for "waiting for W on your desktop" */
	const char *todo;   /* when it was not answered in time */
};
extern const struct kr_prompt kr_unlock_prompt;
extern const struct kr_prompt kr_create_prompt;

/* One Secret Service operation, shared by the caller and the worker; the
 * last of the two to let go frees it. */
struct kr_job {
	GMutex lock;
	GCond cond;
	int refs;
	int done;
	GCancellable *cancel;
	void (*run)(struct kr_job *job);
	/* under lock: when the caller gives up (monotonic µs), whether the
	 * worker waits for the user at the unlock prompt, and why the caller
	 * cancelled */
	gint64 deadline;
	int prompting;
	int prompted;          /* the unlock prompt was shown (kr_unlock) */
	const struct kr_prompt *prompt; /* what the user is asked at (set with
					   prompting) */
	enum kr_gave_up gave_up;

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
	gsize password_len;    /* its bytes: a NUL inside is the item's, handed
				  on so the host refuses it, not cut there */
	char *found_host;      /* resolve: the item's host attribute */
	const char *left_locked; /* store: what a locked collection still holds
				    for the profile ("token"), or NULL */
};

/* keyring_job.c */
struct kr_job *job_new(struct kr_state *st, struct dbr_host *h, enum kr_op op);
void job_unref(struct kr_job *job);
__attribute__((format(printf, 3, 4)))
int job_fail(struct kr_job *job, int rc, const char *fmt, ...);
/* A GError as the job's reason and code; frees it. Returns the code. */
int job_gerror(struct kr_job *job, int rc, const char *what, GError *gerr);
/* What to do about a locked keyring in this run: logout's hint; after the
 * unlock prompt was shown, that it was dismissed; in a run from a terminal
 * that showed none, that the keyring offered none; else to unlock it or
 * run from a terminal. */
const char *job_locked_hint(const struct kr_job *job);
/* "the keyring is locked, nothing was changed while WHAT" with the hint for
 * this run. Returns the code. */
int job_locked(struct kr_job *job, const char *what);
/* 1 when a session bus can be reached at all. */
int bus_reachable(void);
/* The keyring did not answer in time: never touch it again in this run. */
int kr_no_answer(struct kr_state *st, struct dbr_host *h);
/* Run run(job) in a worker, waiting KR_TIMEOUT_MS for it, KR_PROMPT_MS
 * while it waits at the unlock prompt, and no longer once the command is
 * interrupted. Returns the job's code (its reason set), or DBR_E_TIMEOUT /
 * DBR_E_INTERRUPTED with the reason set when the caller gave up. */
int job_run(struct kr_state *st, struct dbr_host *h, struct kr_job *job,
	    void (*run)(struct kr_job *job));
/* In the worker: unlock the object at path (an item or a collection). The
 * Unlock call is bounded like any other; when the Secret Service asks the
 * user, the wait at its prompt gets KR_PROMPT_MS and the caller tells the
 * user. Asks once: a dismissed prompt is the user's answer. Returns 1
 * unlocked, 0 still locked (dismissed, or no prompt could be shown), -1 an
 * error (the job's code and reason are set). */
int kr_unlock(struct kr_job *job, SecretService *svc, const char *path);
/* In the worker: the next calls may show the keyring's prompt p (the new
 * keyring's password: kr_create_prompt), so the caller waits KR_PROMPT_MS
 * and tells the user (p), or they are over (NULL). Returns 0 when the
 * caller has already given up. */
int kr_expect_prompt(struct kr_job *job, const struct kr_prompt *p);

#endif
