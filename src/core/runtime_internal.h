/* Process-wide plumbing the layers share without knowing each other.
 * Internal to libdbroker. */
#ifndef DBROKER_RUNTIME_INTERNAL_H
#define DBROKER_RUNTIME_INTERNAL_H

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Run fn at dbr_runtime_cleanup() (hooks run newest first). A layer above
 * core registers what it loaded (libcurl) without core naming it.
 * Registering the same fn twice is a no-op. Returns 0, or DBR_E_NOMEM when
 * the (small, fixed) table is full. */
int dbr_runtime_on_cleanup(void (*fn)(void));

/* Clear the process-wide interrupt flag set by dbr_interrupt(). Only for
 * tests, which interrupt one call and then make more: a program that was
 * interrupted is meant to stop. */
void dbr_interrupt_reset(void);

/* What the process started with, before hardening changed it. */
struct dbr_start_state {
	mode_t umask;
	struct rlimit core;   /* RLIMIT_CORE, soft and hard */
	sigset_t ignored;     /* the signals at SIG_IGN (nohup, trap '') */
	sigset_t mask;        /* the blocked signals */
};

/* Fill in *out with what dbr_harden_process() recorded, or, when it was
 * never called, with the state at the first call of this. For a child
 * that should run as if it had been started directly. */
void dbr_process_start_state(struct dbr_start_state *out);

#endif
