/* The exact command that finishes a job safely, for messages. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

struct line {
	char *buf;
	size_t cap, len;
	int cut;
};

static void add(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= l->cap) {
		l->cut = 1;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

/* Characters a shell leaves alone: anything else is single-quoted. */
static int shell_plain(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "@%+=:,./-_", *s))
			return 0;
	return 1;
}

static void add_word(struct line *l, const char *w)
{
	add(l, " ", 1);
	if (shell_plain(w)) {
		add(l, w, strlen(w));
		return;
	}
	add(l, "'", 1);
	for (; *w; w++)
		if (*w == '\'')
			add(l, "'\\''", 4);
		else
			add(l, w, 1);
	add(l, "'", 1);
}

const char *cli_rerun_command(const struct cli *cli, const char *flag, const char *value,
			      char *buf, size_t cap)
{
	struct line l = { buf, cap, 0, 0 };
	size_t flen = strlen(flag);
	int stdin_spec = 0;

	buf[0] = '\0';
	add(&l, "dbroker", 7);
	for (int i = 1; i < cli->argc; i++) {
		const char *a = cli->argv[i];

		if (strcmp(a, flag) == 0) {
			i++; /* and its value */
			continue;
		}
		if (strncmp(a, flag, flen) == 0 && a[flen] == '=')
			continue;
		if (strcmp(a, "--json") == 0 && i + 1 < cli->argc &&
		    (strcmp(cli->argv[i + 1], "-") == 0 || strcmp(cli->argv[i + 1], "@-") == 0))
			stdin_spec = 1;
		add_word(&l, a);
	}
	add_word(&l, flag);
	add_word(&l, value);
	if (stdin_spec)
		add(&l, " (with the same spec on stdin)", 30);
	if (l.cut)
		snprintf(buf, cap, "the same command with %s %s", flag, value);
	return buf;
}
