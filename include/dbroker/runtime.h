/* dbroker-layer: core */
/* Process-wide start-up: hardening and library memory hygiene.
 *
 * Call dbr_harden_process() first thing in main(), then dbr_runtime_init()
 * before anything allocates through OpenSSL, libcurl or cJSON.
 */
#ifndef DBROKER_RUNTIME_H
#define DBROKER_RUNTIME_H

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Refuse to continue when secrets cannot be held in locked memory. */
#define DBR_RUNTIME_STRICT 0x1u

/* Make the process undumpable (PR_SET_DUMPABLE 0: no core, no same-uid
 * ptrace or /proc reads), set RLIMIT_CORE's soft limit to 0 (the hard
 * one stays until dbr_harden_drop_core_limit), umask 077, and make
 * sure fds 0, 1 and 2 are open (on /dev/null if they were closed) so no
 * file we open later can become stdout by accident. First it records what
 * the process started with (dbr_process_start_state).
 * Returns 0 or DBR_E_IO (message says which step failed). */
DBR_API int dbr_harden_process(struct dbr_err *err);

/* Lower RLIMIT_CORE's hard limit to 0 as well, for good: call it as soon
 * as no child is to get the limit the process started with (dbroker: at
 * once, except 'exec', which calls it once its child has started).
 * Returns 0 or DBR_E_IO. */
DBR_API int dbr_harden_drop_core_limit(struct dbr_err *err);

/* 1 when signal sig was ignored (SIG_IGN: nohup, trap '') when the
 * process started, before dbr_harden_process() or any handler changed it;
 * else 0. A signal the caller ignores is not one to act on. */
DBR_API int dbr_process_started_ignoring(int sig);

/* Which of fds 0, 1 and 2 dbr_harden_process() found closed and put on
 * /dev/null: bit n for fd n. Output "written" there is lost, so a caller
 * treats a closed stdout as a write error. */
DBR_API unsigned dbr_process_std_reopened(void);

/* The very first thing, from a constructor before main() (and before
 * anything else can run): make the process undumpable, and move the values
 * of DATABRICKS_TOKEN, DATABRICKS_CLIENT_SECRET and VAULT_TOKEN out of the
 * initial environment block
 * that /proc/<pid>/environ shows (into a private mapping excluded from core
 * dumps; the original bytes are wiped). getenv() still finds them until the
 * provider that reads one scrubs it (dbr_env_scrub). Cannot fail in a way
 * that matters: a step that fails leaves things as they were, and
 * dbr_harden_process() reports. A process of the same user that opened
 * /proc/<pid>/environ or /proc/<pid>/mem before this ran can still read
 * what it read then. */
DBR_API void dbr_harden_early(void);

/* 1 if the process is dumpable (0 after dbr_harden_process). */
DBR_API int dbr_process_dumpable(void);

/* Install wiping allocators (size header, zeroed on free and realloc) for
 * OpenSSL, libcurl and cJSON, initialise the secure heap and libcurl.
 * Idempotent. *locked (may be NULL) is set to 1 when secrets live in locked
 * memory. With DBR_RUNTIME_STRICT, failure to lock memory returns
 * DBR_E_SECMEM; without it the caller should warn that secrets may be paged.
 * Returns 0, DBR_E_SECMEM, DBR_E_INTERNAL (a library refused the hooks,
 * e.g. OpenSSL had already allocated). */
DBR_API int dbr_runtime_init(unsigned flags, int *locked, struct dbr_err *err);

/* Release global state (libcurl's, when it was loaded) by running the
 * cleanup hooks the layers above registered, newest first. */
DBR_API void dbr_runtime_cleanup(void);

/* Async-signal-safe: make waits and requests in progress stop as soon as
 * possible with DBR_E_INTERRUPTED. For SIGINT/SIGTERM/SIGHUP handlers. The flag
 * stays set: later waits and requests fail at once. */
DBR_API void dbr_interrupt(void);

/* 1 once dbr_interrupt() has been called (0 again during a grace, below). */
DBR_API int dbr_interrupted(void);

/* Async-signal-safe: dbr_interrupt() on behalf of signal sig (SIGINT,
 * SIGTERM, SIGHUP...), remembered for dbr_interrupt_signal(). */
DBR_API void dbr_interrupt_by(int sig);

/* The signal that interrupted (the first one), or 0. */
DBR_API int dbr_interrupt_signal(void);

/* Cleanup after an interrupt (revoking a short-lived credential) must still
 * reach the network, but not for long: for the next ms milliseconds
 * dbr_interrupted() answers 0, so requests run; after that, or with ms <= 0
 * (end the grace), requests in progress stop again. No effect on the flag
 * itself, nor on dbr_sleep_ms(). Not async-signal-safe. */
DBR_API void dbr_interrupt_grace(long ms);

/* Async-signal-safe: the grace dbr_interrupt_grace() set runs again in
 * full from now (the next dbr_interrupted() applies it), so a signal that
 * arrives late in it still leaves its whole length. No effect without a
 * grace. */
DBR_API void dbr_interrupt_grace_restart(void);

/* Sleep ms milliseconds (monotonic clock) in slices of at most 100 ms,
 * returning early with DBR_E_INTERRUPTED when interrupted (also when the
 * flag was already set); else 0 (at once for ms <= 0). */
DBR_API int dbr_sleep_ms(long ms);

/* Wait until fd is ready for events (poll(2)'s POLLIN, POLLOUT), until
 * deadline_ms on the dbr_mono_ms() clock (< 0: no deadline); when
 * interruptible, in slices of 100 ms that notice dbr_interrupted().
 * Returns 0 (ready, or poll reported an error on fd: the next read or
 * write says which), DBR_E_TIMEOUT, DBR_E_INTERRUPTED or DBR_E_IO (poll
 * itself failed; errno says why). */
DBR_API int dbr_wait_fd(int fd, short events, long deadline_ms, int interruptible);

/* Milliseconds on the monotonic clock (for deadlines and durations). */
DBR_API long dbr_mono_ms(void);

/* Library version, "MAJOR.MINOR.PATCH". */
DBR_API const char *dbr_version(void);

#ifdef __cplusplus
}
#endif
#endif
