/* --confirm: the agent's user approves each client process's first use of
 * a profile on the agent's terminal, like `ssh-add -c`. No answer in time,
 * no terminal, anything but "y": refused (fail closed). */
#include "agent_server_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbroker/os.h"
#include "dbroker/runtime.h"
#include "banned.h"

#define ANSWER_TIMEOUT_MS 30000L
#define APPROVED_MAX 64

/* A process is its pid and start time (a reused pid is another process). */
struct approval {
	pid_t pid;
	unsigned long long start;
	char profile[AGENT_PROFILE_NAME_MAX + 1];
};

static struct approval approved[APPROVED_MAX];
static size_t approved_next;

static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field = 2;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: count from the
	 * last ')' (field 2), start time is field 22 */
	if (!(p = strrchr(buf, ')')))
		return 0;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (unsigned long long)(*p++ - '0');
	return v;
}

/* The client's command name, printable, for the question. */
static void command_of(pid_t pid, char *out, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(out, cap, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, cap, "?");
		return;
	}
	out[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (!isprint((unsigned char)out[i]))
			out[i] = out[i] == '\n' ? '\0' : '?';
}

static int ask(int fd, pid_t pid, const char *profile)
{
	char cmd[64], line[256], answer[16];
	long deadline = dbr_mono_ms() + ANSWER_TIMEOUT_MS;
	size_t got = 0;

	command_of(pid, cmd, sizeof(cmd));
	snprintf(line, sizeof(line), "\ndbroker agent: allow process %ld (%s) to use profile "
		 "'%s'? [y/N] ", (long)pid, cmd, profile);
	if (dbr_write_all(fd, line, strlen(line)))
		return 0;
	while (got < sizeof(answer) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		long left = deadline - dbr_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			dbr_write_all(fd, "(no answer: refused)\n", 21);
			return 0;
		}
		n = read(fd, answer + got, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (answer[got] == '\n')
			break;
		got++;
	}
	return got >= 1 && (answer[0] == 'y' || answer[0] == 'Y');
}

int agent_confirm(struct agent_server *srv, pid_t pid, const char *profile)
{
	unsigned long long start = start_time(pid);
	int ok = 0;

	if (srv->opt->confirm_fd < 0 || !start)
		return 0;
	pthread_mutex_lock(&srv->confirm_mu);
	for (size_t i = 0; i < APPROVED_MAX && !ok; i++)
		ok = approved[i].pid == pid && approved[i].start == start &&
		     strcmp(approved[i].profile, profile) == 0;
	if (!ok && (ok = ask(srv->opt->confirm_fd, pid, profile))) {
		struct approval *a = &approved[approved_next++ % APPROVED_MAX];

		a->pid = pid;
		a->start = start;
		snprintf(a->profile, sizeof(a->profile), "%s", profile);
	}
	pthread_mutex_unlock(&srv->confirm_mu);
	dbr_log_info(srv->store.log, "agent: process %ld %s to use profile '%s'", (long)pid,
		     ok ? "allowed" : "refused", profile);
	return ok;
}
