/* The retry policy of the request module, as pure functions (no clock, no
 * network, no globals) so that every row can be unit-tested. Internal to
 * libdbroker.
 *
 * What is retried (after the official Databricks SDKs):
 *   - 429 and 503, honouring Retry-After (1 s when it is missing);
 *   - no answer at all: DBR_E_NETWORK (refused, reset, closed) and
 *     DBR_E_TIMEOUT (the per-request timeout);
 *   - any other error status whose code or message is one of Databricks'
 *     transient errors (the table in retry.c), except 401 and 403.
 * Never: success, 401/403, 500 and every other status without a transient
 * message, TLS failures, DBR_E_TOO_LARGE, DBR_E_INVAL, DBR_E_NOMEM, ...
 * A method other than GET/HEAD is retried only when the caller marked the
 * call idempotent.
 */
#ifndef DBROKER_RETRY_H
#define DBROKER_RETRY_H

#include <stdint.h>

#include "dbroker/api_error.h"
#include "dbroker/errors.h"

/* Retry-After assumed for a 429 or 503 that does not carry one. */
#define DBR_RETRY_DEFAULT_AFTER_S 1L
/* Backoff without Retry-After: min(attempt, this) seconds plus jitter. */
#define DBR_RETRY_MAX_BACKOFF_S 10L
/* Jitter: up to base / DBR_RETRY_JITTER_DIV extra (25%). */
#define DBR_RETRY_JITTER_DIV 4L
/* Shortest wait, even for "Retry-After: 0": no busy loop against a server;
 * with less than this left of the window, no more attempts. */
#define DBR_RETRY_MIN_WAIT_MS 200L

enum dbr_retry_class {
	DBR_RETRY_NO = 0,     /* success, or a failure retrying cannot fix */
	DBR_RETRY_YES = 1,    /* transient: try again after a wait */
	DBR_RETRY_UNSAFE = 2, /* transient, but the method is not idempotent
				 and the call was not marked so: not retried */
};

/* Classify one attempt. rc is what dbr_http_perform returned; status the
 * HTTP status when rc == 0; e (may be NULL) the parsed error body; method
 * NULL means GET; idempotent != 0 when the caller passed
 * DBR_CALL_IDEMPOTENT. */
enum dbr_retry_class dbr_retry_classify(int rc, long status, const struct dbr_api_error *e,
					const char *method, int idempotent);

/* The transient-error table entry e's code or message matches, for
 * messages ("REQUEST_LIMIT_EXCEEDED", "ClusterNotReadyException", ...), or
 * NULL. Static string. */
const char *dbr_retry_transient_match(const struct dbr_api_error *e);

/* 1 for GET and HEAD (NULL counts as GET): always safe to repeat. */
int dbr_retry_method_safe(const char *method);

/* Milliseconds to wait before the next attempt, given the number of
 * attempts made so far (>= 1), the status of the last answer (0: none), its
 * Retry-After in seconds (-1: absent), a random number and the milliseconds
 * left in the retry window.
 *   - With Retry-After (or 429/503 without it: DBR_RETRY_DEFAULT_AFTER_S):
 *     exactly that (at least DBR_RETRY_MIN_WAIT_MS); -1 when it is longer
 *     than what is left: the server will not take us back in time.
 *   - Else min(attempt, 10) s plus up to 25% jitter taken from rnd, capped
 *     to what is left (the last attempt happens at the window's end).
 * Returns -1 as well when less than DBR_RETRY_MIN_WAIT_MS is left. */
long dbr_retry_delay_ms(unsigned attempt, long status, long retry_after_s, uint32_t rnd,
			long remaining_ms);

/* A cheap RNG for jitter (splitmix64); not for secrets. */
struct dbr_rng {
	uint64_t s;
};

/* Seed from getrandom(2), else from the clock and pid. */
void dbr_rng_seed(struct dbr_rng *r);
uint32_t dbr_rng_next(struct dbr_rng *r);

#endif
