/* dbroker exec: the parts shared by cmd_exec.c (options, credentials,
 * revocation) and cmd_exec_io.c (signals, the child's output, its exit). */
#ifndef DBROKER_CMD_EXEC_H
#define DBROKER_CMD_EXEC_H

#include <sys/types.h>

#include "cli.h"

/* Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH to the child once
 * exec_signals_child() named it; before that, remember the first one and
 * interrupt (dbr_interrupt_by) what runs meanwhile: resolving, minting.
 * Those the caller ignored stay ignored. SIGPIPE is ignored (a closed
 * stdout is an EPIPE to handle); SIGCHLD is at its default, even if the
 * caller ignored it (the child's status would be lost). */
void exec_signals_install(void);
/* Name the child: signals are passed on to it from now until it is
 * reaped. Returns the first terminating signal received before (0: none)
 * for the caller to send it, and forgets it. */
int exec_signals_child(pid_t pid);
/* The first terminating signal received while there was no child (before
 * it started, or after it was reaped, e.g. during revocation), or 0. */
int exec_signals_pending(void);
/* What is left to do over the network (revoking a minted token) begins.
 * Once a terminating signal came (earlier, passed on to the child or not,
 * or from now on) it is an interrupt with the chain's clean-up grace: a
 * request runs at most until DBR_CHAIN_CLEANUP_GRACE_MS from now and no
 * retry is waited for, rather than retrying for the whole retry window
 * while a supervisor's SIGKILL comes. Without a signal it runs as any call
 * does. */
void exec_signals_cleanup(void);

/* Copy the child's stdout and stderr (out_fd, err_fd; -1 when not
 * captured, closed here) to ours through cli->mask until the child has
 * exited, then reap it. Returns the child's status as a shell gives it:
 * its exit code, or 128 + the signal that killed it. */
int exec_wait_child(struct cli *cli, pid_t pid, int out_fd, int err_fd);

#endif
