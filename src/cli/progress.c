/* Progress of a wait on stderr: one live line on a terminal, plain lines
 * (one per change) otherwise. Shared by clusters and jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

/* A message is about to be logged: the live line gives way (the next tick
 * draws it again, below the message). */
static void give_way(void *arg)
{
	cli_progress_end(arg);
}

void cli_progress_init(struct cli_progress *p, struct cli *cli)
{
	memset(p, 0, sizeof(*p));
	p->cli = cli;
	p->tty = isatty(STDERR_FILENO);
}

void cli_progress_update(struct cli_progress *p, const char *subject, const char *state,
			 const char *detail, long elapsed_ms, int polled)
{
	char line[4096];
	char *st = NULL, *msg = NULL;
	int n;

	if (!dbr_log_enabled(p->cli->log, DBR_LOG_WARN))
		return;
	if (!p->tty && (!polled || (strcmp(p->state, state) == 0 &&
				    strcmp(p->detail, detail) == 0)))
		return;
	/* the server's words: masked, escaped, then (live line) cut */
	st = cli_field(p->cli, state, 0);
	msg = cli_field(p->cli, detail, p->tty ? 60 : 0);
	if (!st || !msg)
		goto out;
	if (p->tty) {
		/* one live line: state, detail and elapsed time */
		n = snprintf(line, sizeof(line), "\r\033[K%s  %s  %ld:%02ld", st, msg,
			     elapsed_ms / 60000, (elapsed_ms / 1000) % 60);
		cli_eprint(p->cli, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
		if (!p->line_open)
			dbr_log_set_line_hook(p->cli->log, give_way, p);
		p->line_open = 1;
		goto out;
	}
	snprintf(p->state, sizeof(p->state), "%s", state);
	snprintf(p->detail, sizeof(p->detail), "%s", detail);
	n = snprintf(line, sizeof(line), "dbroker: %s: %s%s%s (%ld s)\n", subject, st,
		     msg[0] ? ": " : "", msg, elapsed_ms / 1000);
	cli_eprint(p->cli, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
out:
	free(st);
	free(msg);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->line_open) {
		dbr_log_set_line_hook(p->cli->log, NULL, NULL);
		cli_eprint(p->cli, "\r\033[K", 4);
	}
	p->line_open = 0;
}
