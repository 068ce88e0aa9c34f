/* Waiting between polls of a long operation (a cluster starting, a job
 * run): the official tools' cadence, a deadline, and sleeps that tick and
 * notice Ctrl-C. Internal to the api layer.
 */
#ifndef DBROKER_POLLER_H
#define DBROKER_POLLER_H

/* Cleared by dbr_poller_start(); no resources to release. */
struct dbr_poller {
	long start_ms;
	long timeout_ms;
	int attempt;
};

/* Called about once a second while sleeping, with the time since start. */
typedef void (*dbr_poller_tick_fn)(void *arg, long elapsed_ms);

void dbr_poller_start(struct dbr_poller *p, long timeout_ms);

/* Milliseconds since dbr_poller_start(). */
long dbr_poller_elapsed(const struct dbr_poller *p);

/* 1 once the timeout has passed. */
int dbr_poller_expired(const struct dbr_poller *p);

/* Sleep before the next poll: min(attempt, 10) s plus up to 250 ms of
 * jitter, cut short at the deadline, in slices of at most a second with
 * tick (may be NULL) between them. Returns 0, or DBR_E_INTERRUPTED as soon
 * as dbr_client_interrupt() was called. */
int dbr_poller_sleep(struct dbr_poller *p, dbr_poller_tick_fn tick, void *arg);

#endif
