/* write_all, the environment scrub and page locks (os.h). */
#include "dbroker/os.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dbroker/bytes.h"

#include "banned.h"

extern char **environ;

int dbr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* O_NONBLOCK set on a stdout another process shares
				 * (the flag is the open file's, not ours): wait as a
				 * blocking write would, rather than lose the rest */
				struct pollfd pf = { .fd = fd, .events = POLLOUT };

				(void)poll(&pf, 1, -1);
				continue;
			}
			return DBR_E_IO;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int dbr_env_scrub(const char *name)
{
	size_t nlen = strlen(name);
	int n = 0;
	int again = 1;

	/* unsetenv() only unlinks the pointer: the bytes stay in the initial
	 * environment block that /proc/<pid>/environ shows. Wipe them. */
	while (again) {
		again = 0;
		for (char **e = environ; e && *e; e++) {
			char *s = *e;

			if (strncmp(s, name, nlen) != 0 || s[nlen] != '=')
				continue;
			/* unlink first: unsetenv matches on the name we wipe */
			unsetenv(name);
			dbr_wipe(s, strlen(s));
			n++;
			again = 1; /* environ was rearranged; look again for duplicates */
			break;
		}
	}
	return n;
}

int dbr_lock_pages(void *p, size_t len)
{
	return syscall(SYS_mlock, p, len) == 0 ? 0 : -1;
}

int dbr_unlock_pages(void *p, size_t len)
{
	return syscall(SYS_munlock, p, len) == 0 ? 0 : -1;
}
