/* Waiting between polls (poller.h). */
#include "poller.h"

#include "dbroker/bytes.h"

#include "dbroker/request.h"
#include "dbroker/runtime.h"
#include "banned.h"

void dbr_poller_start(struct dbr_poller *p, long timeout_ms)
{
	p->start_ms = dbr_mono_ms();
	p->timeout_ms = timeout_ms;
	p->attempt = 0;
}

long dbr_poller_elapsed(const struct dbr_poller *p)
{
	return dbr_mono_ms() - p->start_ms;
}

int dbr_poller_expired(const struct dbr_poller *p)
{
	return dbr_poller_elapsed(p) >= p->timeout_ms;
}

/* min(attempt, 10) s plus up to 250 ms of jitter, as the official tools poll. */
static long poll_delay_ms(int attempt)
{
	unsigned char r[2] = { 0, 0 };
	long base = (attempt < 10 ? attempt : 10) * 1000L;

	if (dbr_random_bytes(r, sizeof(r)))
		r[0] = r[1] = 0;
	return base + (long)(((unsigned)r[0] << 8 | r[1]) % 251);
}

int dbr_poller_sleep(struct dbr_poller *p, dbr_poller_tick_fn tick, void *arg)
{
	long left = p->timeout_ms - dbr_poller_elapsed(p);
	long delay = poll_delay_ms(++p->attempt);

	if (delay > left)
		delay = left;
	/* sleep in slices so progress can tick and Ctrl-C is prompt */
	while (delay > 0) {
		long slice = delay < 1000 ? delay : 1000;
		int rc = dbr_client_sleep(slice);

		if (rc)
			return rc;
		delay -= slice;
		if (tick && delay > 0)
			tick(arg, dbr_poller_elapsed(p));
	}
	return dbr_client_interrupted() ? DBR_E_INTERRUPTED : 0;
}
