/* Progress of a wait on stderr: one live line on a terminal, plain lines
 * (one per change) otherwise. Shared by clusters and jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

/* A message is about to be logged: the live line gives way (the next tick
 * draws it again, below the message). */
static void give_way(void *arg)
{
	cli_progress_end(arg);
}

/* The live line's room: the terminal's width less its last column (some
 * terminals wrap there), since a line that wraps cannot be redrawn in place
 * (each redraw would leave a row behind). 80 when the width is unknown. */
static size_t live_width(void)
{
	struct winsize w;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 1)
		return (size_t)w.ws_col - 1;
	return 79;
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
	if (p->tty) {
		/* one live line, "STATE  detail  m:ss", that fits the terminal:
		 * the server's words masked, escaped, then cut */
		char el[32];
		size_t width = live_width(), used, room;

		snprintf(el, sizeof(el), "%ld:%02ld", elapsed_ms / 60000, (elapsed_ms / 1000) % 60);
		st = cli_field(p->cli, state, width / 3 > 8 ? width / 3 : 8);
		if (!st)
			goto out;
		used = strlen(st) + 4 + strlen(el);
		room = width > used ? width - used : 0;
		msg = room >= 8 ? cli_field(p->cli, detail, room < 60 ? room : 60) : strdup("");
		if (!msg)
			goto out;
		n = snprintf(line, sizeof(line), "\r\033[K%s  %s  %s", st, msg, el);
		cli_eprint(p->cli, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
		if (!p->line_open)
			dbr_log_set_line_hook(p->cli->log, give_way, p);
		p->line_open = 1;
		goto out;
	}
	/* the server's words: masked and escaped */
	st = cli_field(p->cli, state, 0);
	msg = cli_field(p->cli, detail, 0);
	if (!st || !msg)
		goto out;
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
