/* The safe-path walk (safe_path.h): OpenSSH's rules for files that decide
 * what dbroker runs (plugins) or whom it trusts with the token (CAs). */
#include "safe_path.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "banned.h"

/* links followed before giving up (the kernel's own limit) */
#define MAX_LINK_HOPS 40

const struct dbr_path_purpose dbr_path_plugin = {
	.dir_noun = "plugin directory",
	.dir_risk = "who could plant or replace plugins",
	.file_risk = "who could change the code dbroker runs",
	.elsewhere = "install plugins elsewhere",
	.follow_links = 0,
};

const struct dbr_path_purpose dbr_path_ca = {
	.dir_noun = "CA directory",
	.dir_risk = "who could swap the CA certificates dbroker trusts and read the token "
		    "through a server of their own",
	.file_risk = "who could swap the CA certificates dbroker trusts and read the token "
		     "through a server of their own",
	.elsewhere = "keep the CA certificates in a directory only you and root can write",
	.follow_links = 1,
};

const struct dbr_path_purpose dbr_path_config = {
	.dir_noun = "configuration directory",
	.dir_risk = "who could replace the configuration file and send the token to a host of "
		    "their own",
	.file_risk = "who could change where the token is sent",
	.elsewhere = "keep the file in a directory only you and root can write "
		     "(DATABRICKS_CONFIG_FILE names it)",
	.follow_links = 0,
	.sticky_dir_ok = 1,
};

static int owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static unsigned mode_bits(const struct stat *st)
{
	return (unsigned)(st->st_mode & 07777);
}

int dbr_path_check_file_stat(const char *path, const struct stat *st,
			     const struct dbr_path_purpose *why, struct dbr_err *err)
{
	if (S_ISLNK(st->st_mode))
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is a symbolic link (owner uid %u, mode %04o): plugins "
				   "must be regular files; copy the plugin into place instead "
				   "of linking it", path, (unsigned)st->st_uid, mode_bits(st));
	if (!S_ISREG(st->st_mode))
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is not a regular file (owner uid %u, mode %04o): "
				   "give the path of a regular file", path,
				   (unsigned)st->st_uid, mode_bits(st));
	if (!owner_ok(st->st_uid))
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is owned by uid %u (mode %04o), not by root or you "
				   "(uid %u), %s: run 'chown %u %s' (as root), or %s", path,
				   (unsigned)st->st_uid, mode_bits(st), (unsigned)geteuid(),
				   why->file_risk, (unsigned)geteuid(), path, why->elsewhere);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "'%s' is writable by group or others (owner uid %u, mode "
				   "%04o), %s: run 'chmod go-w %s'", path, (unsigned)st->st_uid,
				   mode_bits(st), why->file_risk, path);
	return 0;
}

/* Every directory must be owned by root or us and not writable by group or
 * others, with one exception above the file's own directory: a root-owned
 * sticky directory such as /tmp. In a sticky directory only the owner of an
 * entry (or root) may rename or remove it, so other users who can write
 * there cannot swap our entry for theirs; the next directory down, which is
 * checked too, is ours or root's and closed to them. The file's own
 * directory gets the exception only for a file whose owner is checked and
 * whose name is the only one read (the configuration): elsewhere anyone
 * could add a NEW file there, e.g. "vault.so" before the user installs the
 * real one. */
int dbr_path_check_dir_chain(const char *realdir, const struct dbr_path_purpose *why,
			     struct dbr_err *err)
{
	char *dir = strdup(realdir);
	int first = 1, rc = 0;

	if (!dir)
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	for (;;) {
		struct stat st;
		char *slash;

		if (lstat(dir, &st) != 0) {
			rc = dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", dir,
					 strerror(errno));
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc = dbr_err_set(err, DBR_E_UNSAFE_PERM,
					 "'%s' changed into something other than a directory "
					 "(owner uid %u, mode %04o) while it was being checked: "
					 "find out who changed it", dir, (unsigned)st.st_uid,
					 mode_bits(&st));
			break;
		}
		if (!owner_ok(st.st_uid)) {
			rc = dbr_err_set(err, DBR_E_UNSAFE_PERM,
					 "%s%s'%s' is owned by uid %u (mode %04o), not by root or "
					 "you (uid %u), %s: run 'chown root %s' or %s",
					 first ? why->dir_noun : "", first ? " " : "", dir,
					 (unsigned)st.st_uid, mode_bits(&st), (unsigned)geteuid(),
					 why->dir_risk, dir, why->elsewhere);
			break;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    ((first && !why->sticky_dir_ok) || st.st_uid != 0 ||
		     !(st.st_mode & S_ISVTX))) {
			rc = dbr_err_set(err, DBR_E_UNSAFE_PERM,
					 "%s%s'%s' is writable by group or others (owner uid %u, "
					 "mode %04o), %s: run 'chmod go-w %s' or %s",
					 first ? why->dir_noun : "", first ? " " : "", dir,
					 (unsigned)st.st_uid, mode_bits(&st), why->dir_risk, dir,
					 why->elsewhere);
			break;
		}
		if (!strcmp(dir, "/"))
			break;
		slash = strrchr(dir, '/');
		if (!slash) { /* cannot happen for a realpath() result */
			rc = dbr_err_set(err, DBR_E_INTERNAL, "'%s' is not absolute", dir);
			break;
		}
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		first = 0;
	}
	free(dir);
	return rc;
}

int dbr_path_real_dir(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	*out = NULL;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return DBR_E_NOMEM;
	*out = realpath(dir, NULL);
	free(dir);
	if (!*out)
		return errno == ENOMEM ? DBR_E_NOMEM : (errno ? errno : EIO);
	return 0;
}

/* The directory chain of the directory holding path. */
int dbr_path_check_parent(const char *path, const struct dbr_path_purpose *why,
			  struct dbr_err *err)
{
	char *realdir = NULL;
	int rc = dbr_path_real_dir(path, &realdir);

	if (rc > 0)
		return dbr_err_set(err, DBR_E_IO, "cannot resolve the directory of '%s': %s",
				   path, strerror(rc));
	if (rc)
		return dbr_err_set(err, rc, "out of memory");
	rc = dbr_path_check_dir_chain(realdir, why, err);
	free(realdir);
	return rc;
}

/* The target of the link at path, relative to the link's directory. */
static int link_target(const char *path, struct dbr_buf *out, struct dbr_err *err)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0)
		return dbr_err_set(err, DBR_E_IO, "cannot read the link '%s': %s", path,
				   strerror(errno));
	target[n] = '\0';
	dbr_buf_reset(out);
	slash = strrchr(path, '/');
	if (target[0] != '/' && slash &&
	    dbr_buf_add(out, path, (size_t)(slash - path) + 1))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	if (dbr_buf_addstr(out, target))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	return 0;
}

int dbr_path_check(const char *path, const struct dbr_path_purpose *why,
		   struct dbr_err *err)
{
	struct dbr_buf cur = DBR_BUF_INIT(PATH_MAX), next = DBR_BUF_INIT(PATH_MAX);
	struct stat st;
	int rc = 0, hops = 0;

	if (!path || !*path)
		return dbr_err_set(err, DBR_E_INVAL, "no path to check");
	if (dbr_buf_addstr(&cur, path))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	for (;;) {
		if (lstat(cur.data, &st) != 0) {
			rc = dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", cur.data,
					 strerror(errno));
			break;
		}
		if (!S_ISLNK(st.st_mode) || !why->follow_links) {
			rc = dbr_path_check_file_stat(cur.data, &st, why, err);
			if (rc == 0)
				rc = dbr_path_check_parent(cur.data, why, err);
			break;
		}
		/* whoever can write the link's directory decides where it points */
		rc = dbr_path_check_parent(cur.data, why, err);
		if (rc)
			break;
		if (++hops > MAX_LINK_HOPS) {
			rc = dbr_err_set(err, DBR_E_IO, "cannot examine '%s': too many levels "
					 "of symbolic links", path);
			break;
		}
		rc = link_target(cur.data, &next, err);
		if (rc)
			break;
		dbr_buf_reset(&cur);
		if (dbr_buf_add(&cur, next.data, next.len)) {
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
			break;
		}
	}
	dbr_buf_release(&cur);
	dbr_buf_release(&next);
	return rc;
}

int dbr_path_check_dir_files(const char *path, const struct dbr_path_purpose *why,
			     struct dbr_err *err)
{
	struct dbr_buf entry = DBR_BUF_INIT(PATH_MAX);
	char *real = NULL;
	struct dirent *d;
	DIR *dir;
	int rc;

	if (!path || !*path)
		return dbr_err_set(err, DBR_E_INVAL, "no path to check");
	real = realpath(path, NULL);
	if (!real)
		return dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", path,
				   strerror(errno));
	rc = dbr_path_check_dir_chain(real, why, err);
	free(real);
	if (rc)
		return rc;
	/* a link to the directory was resolved above; entries are read through
	 * the path as given, which now leads to a checked directory */
	dir = opendir(path);
	if (!dir)
		return dbr_err_set(err, DBR_E_IO, "cannot read the directory '%s': %s", path,
				   strerror(errno));
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		dbr_buf_reset(&entry);
		if (dbr_buf_addf(&entry, "%s/%s", path, d->d_name)) {
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
			break;
		}
		rc = dbr_path_check(entry.data, why, err);
	}
	closedir(dir);
	dbr_buf_release(&entry);
	return rc;
}
