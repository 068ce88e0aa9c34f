/* Process hardening at start-up (what ssh-agent does). */
#include "dbroker/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbroker/os.h"
#include "runtime_internal.h"
#include "banned.h"

static unsigned std_reopened;
static struct dbr_start_state start;
static int start_recorded;

static void record_start(void)
{
	if (start_recorded)
		return;
	start.umask = umask(077);
	umask(start.umask);
	if (getrlimit(RLIMIT_CORE, &start.core) != 0)
		start.core.rlim_cur = start.core.rlim_max = 0; /* as hardened */
	sigemptyset(&start.ignored);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
		    sa.sa_handler == SIG_IGN)
			sigaddset(&start.ignored, sig);
	}
	sigprocmask(SIG_SETMASK, NULL, &start.mask);
	start_recorded = 1;
}

void dbr_process_start_state(struct dbr_start_state *out)
{
	record_start();
	*out = start;
}

int dbr_process_started_ignoring(int sig)
{
	record_start();
	return sigismember(&start.ignored, sig) == 1;
}

/* Reopen any of fds 0-2 that is closed on /dev/null, so a file opened later
 * can never become stdout/stderr and receive output by accident. */
static int sanitize_std_fds(struct dbr_err *err)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		std_reopened |= 1u << fd;
		nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd < 0)
			return dbr_err_set(err, DBR_E_IO, "cannot open /dev/null: %s",
					   strerror(errno));
		if (nfd != fd) {
			/* a lower fd was free too; the loop fixes it first,
			 * so this only happens if another thread raced us */
			close(nfd);
			return dbr_err_set(err, DBR_E_INTERNAL,
					   "standard descriptor %d could not be restored", fd);
		}
	}
	return 0;
}

int dbr_harden_process(struct dbr_err *err)
{
	struct rlimit rl;

	record_start();
	/* the soft limit stops a core; the hard one stays, for now, so that
	 * 'dbroker exec' can give its child the limit it started with */
	rl.rlim_cur = 0;
	rl.rlim_max = start.core.rlim_max;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot make the process undumpable: %s",
				   strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot disable core dumps: %s",
				   strerror(errno));
	umask(077);
	return sanitize_std_fds(err);
}

int dbr_harden_drop_core_limit(struct dbr_err *err)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot disable core dumps: %s",
				   strerror(errno));
	return 0;
}

unsigned dbr_process_std_reopened(void)
{
	return std_reopened;
}

/* Move every "NAME=value" out of the initial environment block (what
 * /proc/<pid>/environ shows) into a private mapping excluded from core
 * dumps, wiping the original bytes: getenv() still finds it (environ points
 * at the copy) until dbr_env_scrub() wipes and removes it. Every copy: a
 * parent may pass the name twice, and getenv() sees only the first. Returns
 * 1 if moved, 0 if not set, -1 if no memory could be mapped (then the
 * original stays: better readable than lost). */
static int move_out_of_block(const char *name)
{
	extern char **environ;
	size_t nlen = strlen(name);
	int moved = 0;

	for (char **e = environ; e && *e; e++) {
		size_t len;
		char *copy;

		if (strncmp(*e, name, nlen) != 0 || (*e)[nlen] != '=')
			continue;
		len = strlen(*e) + 1;
		copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (copy == MAP_FAILED)
			return -1;
		madvise(copy, len, MADV_DONTDUMP);
		(void)dbr_lock_pages(copy, len); /* best effort: the secure heap is not up yet */
		memcpy(copy, *e, len);
		explicit_bzero(*e, len - 1);
		*e = copy;
		moved = 1;
	}
	return moved;
}

void dbr_harden_early(void)
{
	static const char *const secret_vars[] = { "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET",
						   "VAULT_TOKEN" };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++)
		move_out_of_block(secret_vars[i]);
}

int dbr_process_dumpable(void)
{
	return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;
}
