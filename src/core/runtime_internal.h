/* Process-wide plumbing the layers share without knowing each other.
 * Internal to libdbroker. */
#ifndef DBROKER_RUNTIME_INTERNAL_H
#define DBROKER_RUNTIME_INTERNAL_H

/* Run fn at dbr_runtime_cleanup() (hooks run newest first). A layer above
 * core registers what it loaded (libcurl) without core naming it.
 * Registering the same fn twice is a no-op. Returns 0, or DBR_E_NOMEM when
 * the (small, fixed) table is full. */
int dbr_runtime_on_cleanup(void (*fn)(void));

/* Clear the process-wide interrupt flag set by dbr_interrupt(). Only for
 * tests, which interrupt one call and then make more: a program that was
 * interrupted is meant to stop. */
void dbr_interrupt_reset(void);

#endif
