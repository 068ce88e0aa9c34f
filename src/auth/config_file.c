/* Choosing and reading the configuration file (config_internal.h): which
 * file, and its bytes with the ownership, mode and size checks. */
#include "dbroker/config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "buf.h"
#include "config_internal.h"
#include "safe_path.h"
#include "banned.h"

#define TOO_LARGE_FMT "'%s' is larger than %d bytes, more than a configuration file " \
	"needs: check that it is the file you meant (--config-file, DATABRICKS_CONFIG_FILE)"

/* ---- choosing the file and the profile ---- */

/* The home directory: $HOME, else the password database. Returns 0 and sets
 * *out (malloc'd), or DBR_E_CONFIG / DBR_E_NOMEM. */
static int home_dir(char **out, struct dbr_err *err)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[4096];

	*out = NULL;
	if (!home || !*home) {
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
		    res->pw_dir && *res->pw_dir)
			home = res->pw_dir;
	}
	if (!home || !*home)
		return dbr_err_set(err, DBR_E_CONFIG,
				   "cannot find the home directory: set HOME, or "
				   "DATABRICKS_CONFIG_FILE to the configuration file");
	*out = strdup(home);
	return *out ? 0 : DBR_E_NOMEM;
}

/* The file to read: path, else $DATABRICKS_CONFIG_FILE, else
 * ~/.databrickscfg; a leading "~/" is expanded like the official tools do.
 * Returns 0 and *out (malloc'd), or DBR_E_CONFIG / DBR_E_NOMEM. */
int dbr_config_resolve_path(const char *path, char **out, struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(1u << 16);
	const char *env = getenv("DATABRICKS_CONFIG_FILE");
	const char *rest = NULL;
	char *home = NULL;
	int rc;

	*out = NULL;
	if (!path && env && *env)
		path = env;
	if (!path)
		rest = "/.databrickscfg";
	else if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
		rest = path + 1;
	if (!rest) {
		*out = strdup(path);
		return *out ? 0 : DBR_E_NOMEM;
	}
	rc = home_dir(&home, err);
	if (rc)
		return rc;
	if (dbr_buf_addstr(&b, home) || dbr_buf_addstr(&b, rest)) {
		free(home);
		dbr_buf_release(&b);
		return DBR_E_NOMEM;
	}
	free(home);
	*out = dbr_buf_detach(&b, NULL);
	return *out ? 0 : DBR_E_NOMEM;
}

/* ---- reading the file ---- */

/* Open path as the configuration file. Returns 0 with *fd, 1 when the file
 * does not exist, or DBR_E_UNSAFE_PERM (a link) / DBR_E_IO with err. */
int dbr_config_open_file(const char *path, int *fd, struct dbr_err *err)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang us before the
	 * fstat in dbr_config_read_fd refuses it; no effect on regular files */
	*fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (*fd >= 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	if (errno == ELOOP)
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is a symbolic link: dbroker does not follow links "
				   "for its configuration; replace the link with the file, or "
				   "set DATABRICKS_CONFIG_FILE to the real path", path);
	return dbr_err_set(err, DBR_E_IO, "cannot open '%s': %s", path, strerror(errno));
}

/* Open and read path into b (a wiping buffer). Returns 0, 1 when the file
 * does not exist, or DBR_E_UNSAFE_PERM / DBR_E_IO / DBR_E_CONFIG (over
 * DBR_CONFIG_MAX_BYTES: the file named is the problem, for every caller) /
 * DBR_E_NOMEM. *readable is set when group or others may read the file. */
int dbr_config_read_file(const char *path, struct dbr_buf *b, int *readable,
			 struct dbr_err *err)
{
	struct stat st;
	int fd, rc;

	*readable = 0;
	rc = dbr_config_open_file(path, &fd, err);
	if (rc)
		return rc;
	rc = dbr_config_read_fd(fd, path, b, readable, &st, err);
	close(fd);
	return rc;
}

int dbr_config_read_fd(int fd, const char *path, struct dbr_buf *b, int *readable,
		       struct stat *st, struct dbr_err *err)
{
	uid_t euid = geteuid();
	int rc;

	*readable = 0;
	/* check the file we opened, not the path: no window for a swap */
	if (fstat(fd, st) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot stat '%s': %s", path, strerror(errno));
	/* DATABRICKS_CONFIG_FILE=/dev/null is the usual way to say "no file" */
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3))
		return 1;
	if (!S_ISREG(st->st_mode)) {
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is not a regular file: point DATABRICKS_CONFIG_FILE at a "
				   "regular file", path);
	}
	if (st->st_uid != euid && st->st_uid != 0) {
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is owned by uid %u, not by you (uid %u) or root, and it "
				   "decides where credentials come from: run 'chown %u %s' or use "
				   "a file of your own", path, (unsigned)st->st_uid, (unsigned)euid,
				   (unsigned)euid, path);
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is writable by group or others (mode %04o), who could "
				   "change where credentials come from: run 'chmod go-w %s'",
				   path, (unsigned)(st->st_mode & 07777), path);
	}
	/* whoever may write a directory above the file may replace it */
	if ((rc = dbr_path_check_parent(path, &dbr_path_config, err)))
		return rc;
	*readable = (st->st_mode & (S_IRGRP | S_IROTH)) != 0;
	if (st->st_size > DBR_CONFIG_MAX_BYTES)
		return dbr_err_set(err, DBR_E_CONFIG, TOO_LARGE_FMT, path, DBR_CONFIG_MAX_BYTES);
	/* b->max is one past the limit, so reaching it means "too large" even
	 * when the file grew after the fstat: the same DBR_E_CONFIG */
	rc = dbr_buf_grow(b, (size_t)st->st_size + 1);
	while (rc == 0) {
		size_t want = b->max - b->len;
		ssize_t n;

		if (want == 0) {
			rc = dbr_err_set(err, DBR_E_CONFIG, TOO_LARGE_FMT, path,
					 DBR_CONFIG_MAX_BYTES);
			break;
		}
		if (want > 16384)
			want = 16384;
		rc = dbr_buf_grow(b, want);
		if (rc)
			break;
		n = read(fd, b->data + b->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = dbr_err_set(err, DBR_E_IO, "cannot read '%s': %s", path,
					 strerror(errno));
			break;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
	if (rc == DBR_E_NOMEM)
		dbr_err_set(err, rc, "out of memory reading '%s'", path);
	return rc;
}

