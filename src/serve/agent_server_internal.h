/* Internals of the agent (agent_server.h): the credential store
 * (agent_server_store.c), one client connection (agent_server_conn.c), the first-use
 * question (agent_server_confirm.c) and the server loop (agent_server.c). */
#ifndef DBROKER_AGENT_SERVER_INTERNAL_H
#define DBROKER_AGENT_SERVER_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "dbroker/agent_server.h"
#include "dbroker/chain.h"
#include "dbroker/config.h"
#include "dbroker/credential.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"

#define AGENT_PROFILES_MAX 64
#define AGENT_PROFILE_NAME_MAX 128

/* One profile's credential and everything that resolved it. The chain
 * registers the credential in this entry's own masker, so forgetting the
 * entry wipes every copy the agent had. */
struct agent_entry {
	char *profile;
	/* calls hold it shared (exclusive for a credential with a token
	 * source, whose refresh is single-threaded); a re-read holds it
	 * exclusive, so no secret is registered while the masker is in use */
	pthread_rwlock_t lock;
	unsigned refs;            /* under the store's mutex */
	int dead;                 /* out of the table: freed at refs 0 */
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	/* what the status shows of cred, under the store's mutex (cred may
	 * be replaced by a re-read meanwhile) */
	char host[256], auth_type[32], source[64];
	long resolved_ms;         /* first resolution (dbr_mono_ms) */
	long reread_at_ms;
	long forget_at_ms;
	long long resolved_wall;  /* time(NULL) of the first resolution */
	unsigned reads;           /* resolutions so far */
	unsigned long calls;      /* under the store's mutex */
};

struct agent_store {
	pthread_mutex_t mu;       /* the table, refs, dead, calls */
	pthread_mutex_t resolve_mu; /* one resolution at a time */
	struct agent_entry *e[AGENT_PROFILES_MAX];
	size_t n;
	const struct dbr_agent_options *opt; /* borrowed */
	struct dbr_mask *shapes;  /* no secrets: the agent's own log */
	struct dbr_log *log;
	unsigned long resolutions; /* under mu */
};

int agent_store_init(struct agent_store *s, const struct dbr_agent_options *opt,
		     struct dbr_err *err);
/* Forget everything and free. */
void agent_store_release(struct agent_store *s);

/* The live entry of profile, resolved now if needed (and re-read when
 * due), with a reference the caller drops with agent_entry_put() (called:
 * it was used for a call, which the status counts). Returns
 * 0, or the chain's or the configuration's error (nothing is kept). */
int agent_store_get(struct agent_store *s, const char *profile, struct agent_entry **out,
		    struct dbr_err *err);
void agent_entry_put(struct agent_store *s, struct agent_entry *e, int called);

/* Forget profile's credential (NULL: every one). Calls in flight finish
 * with it; it is wiped when the last one ends. Returns how many. */
size_t agent_store_forget(struct agent_store *s, const char *profile);

/* Forget what is past its TTL. Returns the ms until the next expiry (or
 * -1 when nothing is held). */
long agent_store_expire(struct agent_store *s);

/* The status report (a JSON object, malloc'ed) or NULL when out of memory. */
char *agent_store_report(struct agent_store *s, long long started_wall,
			 unsigned long clients_served, unsigned long refused);

/* The server's state shared with its connection threads. */
struct agent_server {
	struct agent_store store;
	const struct dbr_agent_options *opt;
	pthread_mutex_t mu;
	unsigned active;          /* connection threads running */
	unsigned long served;     /* connections accepted */
	unsigned long refused;    /* connections of another uid */
	long long started_wall;
	int stop;                 /* set by DBR_AGENT_STOP */
	int wake_fd;              /* write end of the server's self-pipe */
	int spare_fd;             /* a descriptor kept to give up when out of
				     them (accept_one), or -1 */
	pthread_mutex_t confirm_mu;
	/* the socket file bound at start (remove_socket), until removed */
	int socket_owned;
	dev_t socket_dev;
	ino_t socket_ino;
};

/* Serve one client connection until it closes (runs on its own thread;
 * closes fd). pid is the client's (SO_PEERCRED). */
void agent_conn_serve(struct agent_server *srv, int fd, pid_t pid);

/* --confirm: may the client process pid use profile? 1 yes, 0 no (also
 * when nobody answers within the time, or there is no terminal). */
int agent_confirm(struct agent_server *srv, pid_t pid, const char *profile);

/* Remove the socket file the agent was started on (remove_socket), once,
 * and only while it is still that file. Called under srv->mu. */
void agent_server_remove_socket(struct agent_server *srv);

/* Wake the server loop (async-signal-safe). */
void agent_server_wake(struct agent_server *srv);

#endif
