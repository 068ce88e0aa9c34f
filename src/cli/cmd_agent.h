/* dbroker agent: shared between its subcommands (cmd_agent.c) and start
 * (cmd_agent_start.c). */
#ifndef DBROKER_CMD_AGENT_H
#define DBROKER_CMD_AGENT_H

#include "cli.h"

struct agent_start_opts {
	long ttl_ms;          /* 0: the default */
	long reread_ms;       /* 0: the default */
	const char *socket;   /* --socket, or NULL */
	int foreground;
	int confirm;
	int activated;        /* the socket came from systemd (LISTEN_FDS) */
};

/* Listen, detach (unless foreground), serve until stopped. Returns an exit
 * code (the parent's: 0 once the agent runs). */
int agent_start(struct cli *cli, const struct agent_start_opts *o);

#endif
