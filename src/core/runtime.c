/* Library-wide initialisation, cleanup hooks and the interrupt flag. */
#include "dbroker/runtime.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "alloc.h"
#include "dbroker/secret.h"
#include "runtime_internal.h"
#include "version.h"
#include "banned.h"

/* dbr_sleep_ms() and dbr_wait_fd() look at the interrupt flag this often */
#define SLEEP_SLICE_NS 100000000L
#define CLEANUP_MAX 8

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t interrupt_sig;
static long grace_until; /* dbr_mono_ms() deadline of the cleanup grace, or 0 */
static long grace_len;   /* its length, for a restart */
static volatile sig_atomic_t grace_restart; /* set by dbr_interrupt_grace_restart() */
static void (*cleanup_hooks[CLEANUP_MAX])(void);
static size_t n_cleanup;

int dbr_runtime_init(unsigned flags, int *locked, struct dbr_err *err)
{
	int rc;

	if (locked)
		*locked = 0;
	rc = dbr_alloc_install();
	if (rc)
		return dbr_err_set(err, rc,
				   "cannot install wiping allocators: OpenSSL was used before dbroker started");
	return dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, (flags & DBR_RUNTIME_STRICT) != 0,
			       locked, err);
}

int dbr_runtime_on_cleanup(void (*fn)(void))
{
	for (size_t i = 0; i < n_cleanup; i++)
		if (cleanup_hooks[i] == fn)
			return 0;
	if (n_cleanup == CLEANUP_MAX)
		return DBR_E_NOMEM;
	cleanup_hooks[n_cleanup++] = fn;
	return 0;
}

void dbr_runtime_cleanup(void)
{
	while (n_cleanup > 0)
		cleanup_hooks[--n_cleanup]();
}

const char *dbr_version(void)
{
	return DBR_VERSION;
}

void dbr_interrupt(void)
{
	interrupted = 1;
}

int dbr_interrupted(void)
{
	if (grace_restart) {
		grace_restart = 0;
		if (grace_until)
			grace_until = dbr_mono_ms() + grace_len;
	}
	if (!interrupted)
		return 0;
	return !(grace_until && dbr_mono_ms() < grace_until);
}

void dbr_interrupt_grace(long ms)
{
	grace_restart = 0;
	grace_len = ms > 0 ? ms : 0;
	grace_until = ms > 0 ? dbr_mono_ms() + ms : 0;
}

void dbr_interrupt_grace_restart(void)
{
	grace_restart = 1;
}

void dbr_interrupt_by(int sig)
{
	if (!interrupt_sig)
		interrupt_sig = sig;
	interrupted = 1;
}

int dbr_interrupt_signal(void)
{
	return interrupt_sig;
}

void dbr_interrupt_reset(void)
{
	interrupted = 0;
	interrupt_sig = 0;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long dbr_mono_ms(void)
{
	return (long)(mono_ns() / 1000000LL);
}

int dbr_sleep_ms(long ms)
{
	long long end;

	if (interrupted)
		return DBR_E_INTERRUPTED;
	if (ms <= 0)
		return 0;
	if (ms > 1000L * 1000 * 1000)
		ms = 1000L * 1000 * 1000; /* 11 days: no overflow below */
	end = mono_ns() + (long long)ms * 1000000LL;
	for (;;) {
		long long left = end - mono_ns();
		struct timespec slice;

		if (interrupted)
			return DBR_E_INTERRUPTED;
		if (left <= 0)
			return 0;
		if (left > SLEEP_SLICE_NS)
			left = SLEEP_SLICE_NS;
		slice.tv_sec = 0;
		slice.tv_nsec = (long)left;
		/* EINTR (the SIGINT handler ran): look at the flag at once */
		nanosleep(&slice, NULL);
	}
}

int dbr_wait_fd(int fd, short events, long deadline_ms, int interruptible)
{
	for (;;) {
		struct pollfd pf = { fd, events, 0 };
		long slice = interruptible ? (SLEEP_SLICE_NS / 1000000L) : -1;
		int n;

		if (interruptible && dbr_interrupted())
			return DBR_E_INTERRUPTED;
		if (deadline_ms >= 0) {
			long left = deadline_ms - dbr_mono_ms();

			if (left <= 0)
				return DBR_E_TIMEOUT;
			if (slice < 0 || left < slice)
				slice = left < 60000 ? left : 60000;
		}
		n = poll(&pf, 1, (int)slice);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return DBR_E_IO;
	}
}
