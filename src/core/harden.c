/* Process hardening at start-up (what ssh-agent does). */
#include "dbroker/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static unsigned std_reopened;

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
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot make the process undumpable: %s",
				   strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot disable core dumps: %s",
				   strerror(errno));
	umask(077);
	return sanitize_std_fds(err);
}

unsigned dbr_process_std_reopened(void)
{
	return std_reopened;
}

int dbr_process_dumpable(void)
{
	return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;
}
