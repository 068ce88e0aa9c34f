/* The retry policy (see retry.h): which attempts to repeat and how long to
 * wait. Pure functions; the loop that uses them is in request.c. */
#include "retry.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* Databricks' transient errors: an answer whose error code is, or whose
 * message contains, one of these is worth another try whatever its status
 * (401/403 aside). From the Go and Python SDKs; the Go SDK's regular
 * expression `worker env .* not found` is the pair below. The Python SDK's
 * "Unexpected error" is left out on purpose: it would make most 500s
 * retried. Matching is case-sensitive, as in the SDKs. */
static const struct transient {
	enum { BY_CODE, BY_MESSAGE } where;
	const char *text;
	const char *then; /* BY_MESSAGE: must also occur after text, or NULL */
} transient[] = {
	{ BY_CODE, "REQUEST_LIMIT_EXCEEDED", NULL },
	{ BY_CODE, "TEMPORARILY_UNAVAILABLE", NULL },
	{ BY_MESSAGE, "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException", NULL },
	{ BY_MESSAGE, "does not have any associated worker environments", NULL },
	{ BY_MESSAGE, "There is no worker environment with id", NULL },
	{ BY_MESSAGE, "Unknown worker environment", NULL },
	{ BY_MESSAGE, "ClusterNotReadyException", NULL },
	{ BY_MESSAGE, "worker env ", " not found" },
	{ BY_MESSAGE, "Timed out after ", NULL },
	{ BY_MESSAGE, "deadline exceeded", NULL },
};

const char *dbr_retry_transient_match(const struct dbr_api_error *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
		const struct transient *t = &transient[i];
		const char *hit;

		if (t->where == BY_CODE) {
			if (strcmp(e->code, t->text) == 0)
				return t->text;
			continue;
		}
		hit = strstr(e->message, t->text);
		if (hit && (!t->then || strstr(hit + strlen(t->text), t->then)))
			return t->text;
	}
	return NULL;
}

int dbr_retry_method_safe(const char *method)
{
	return !method || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static int transient_status(long status, const struct dbr_api_error *e, int safe)
{
	if (status >= 200 && status <= 299)
		return 0;
	if (status == 401 || status == 403)
		return 0; /* a new token is needed, not another try */
	if (status == 429 || status == 503)
		return 1;
	/* a server error (or a gateway's page): a read is worth another try */
	if (safe && (status == 500 || status == 502 || status == 504))
		return 1;
	return dbr_retry_transient_match(e) != NULL;
}

enum dbr_retry_class dbr_retry_classify(int rc, long status, const struct dbr_api_error *e,
					const char *method, int idempotent)
{
	int transient_now;

	switch (rc) {
	case 0:
		transient_now = transient_status(status, e, dbr_retry_method_safe(method));
		break;
	case DBR_E_UNREACHABLE:
		/* nothing reached the server: safe to repeat whatever the method */
		return DBR_RETRY_YES;
	case DBR_E_NETWORK:
	case DBR_E_TIMEOUT:
		transient_now = 1;
		break;
	default:
		/* TLS, too large, invalid, out of memory, interrupted, ... */
		transient_now = 0;
		break;
	}
	if (!transient_now)
		return DBR_RETRY_NO;
	if (!idempotent && !dbr_retry_method_safe(method))
		return DBR_RETRY_UNSAFE;
	return DBR_RETRY_YES;
}

long dbr_retry_delay_ms(unsigned attempt, long status, long retry_after_s, uint32_t rnd,
			long remaining_ms)
{
	long base, ms;

	if (remaining_ms < DBR_RETRY_MIN_WAIT_MS)
		return -1;
	if (retry_after_s < 0 && (status == 429 || status == 503))
		retry_after_s = DBR_RETRY_DEFAULT_AFTER_S;
	if (retry_after_s >= 0) {
		/* compare in seconds first: no overflow for huge values */
		if (retry_after_s > remaining_ms / 1000 + 1)
			return -1;
		ms = retry_after_s * 1000;
		if (ms < DBR_RETRY_MIN_WAIT_MS)
			ms = DBR_RETRY_MIN_WAIT_MS;
		return ms > remaining_ms ? -1 : ms;
	}
	if (attempt < 1)
		attempt = 1;
	base = (attempt < (unsigned)DBR_RETRY_MAX_BACKOFF_S ? (long)attempt
							       : DBR_RETRY_MAX_BACKOFF_S) * 1000;
	ms = base + (long)(rnd % (uint32_t)(base / DBR_RETRY_JITTER_DIV + 1));
	return ms > remaining_ms ? remaining_ms : ms;
}

void dbr_rng_seed(struct dbr_rng *r)
{
	uint64_t seed = 0;
	ssize_t n;

	do
		n = getrandom(&seed, sizeof(seed), GRND_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		       ((uint64_t)getpid() << 16);
	}
	r->s = seed;
}

uint32_t dbr_rng_next(struct dbr_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}
