/* Editing the configuration file: dropping a profile's plaintext token
 * (dbroker/config.h). The lines to drop are the ones the reader itself
 * parsed as that profile's `token` (config.c), never a second guess. */
#include "dbroker/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config_internal.h"
#include "dbroker/bytes.h"
#include "dbroker/os.h"
#include "dbroker/runtime.h"
#include "banned.h"

/* in without the given lines, into out (a wiping buffer). */
static int drop_lines(const struct dbr_buf *in, const struct dbr_config_lines *l,
		      struct dbr_buf *out)
{
	size_t at = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (l->r[i].start < at || l->r[i].end > in->len)
			return DBR_E_INTERNAL;
		if (dbr_buf_add(out, in->data + at, l->r[i].start - at))
			return DBR_E_NOMEM;
		at = l->r[i].end;
	}
	return dbr_buf_add(out, in->data + at, in->len - at) ? DBR_E_NOMEM : 0;
}

/* How long an edit waits for another one of the same file to finish. */
#define EDIT_LOCK_WAIT_MS 10000
#define EDIT_LOCK_POLL_MS 20

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* A process holding a flock on the file of st, from /proc/locks ("1: FLOCK
 * ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF", the device in hex; waiters are
 * marked "->"), and its owner's uid. Returns 1 when one was found. */
static int lock_holder(const struct stat *st, long *pid, uid_t *uid)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		char kind[16], pidbuf[32], path[48];
		struct stat ps;

		if (strstr(line, "->") ||
		    sscanf(line, "%*d: %15s %*s %*s %31s %x:%x:%llu", kind, pidbuf, &maj, &min,
			   &ino) != 5 ||
		    strcmp(kind, "FLOCK") != 0 || ino != (unsigned long long)st->st_ino ||
		    maj != major(st->st_dev) || min != minor(st->st_dev))
			continue;
		*pid = strtol(pidbuf, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld", *pid);
		if (*pid > 0 && stat(path, &ps) == 0) {
			*uid = ps.st_uid;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* The message for a lock held past EDIT_LOCK_WAIT_MS: who holds it, when
 * /proc/locks tells. Anyone who can open the file can lock it: another
 * user, when the file is readable by others. */
static int held_too_long(const char *path, int lfd, struct dbr_err *err)
{
	struct stat st;
	long pid = 0;
	uid_t uid = 0;

	if (fstat(lfd, &st) != 0 || !lock_holder(&st, &pid, &uid))
		return dbr_err_set(err, DBR_E_TIMEOUT, "another process has held a lock on '%s' "
				   "for %d s (another dbroker editing it?): run the command again "
				   "when it is done (the file is unchanged)", path,
				   EDIT_LOCK_WAIT_MS / 1000);
	if (uid == geteuid())
		return dbr_err_set(err, DBR_E_TIMEOUT, "process %ld has held a lock on '%s' for "
				   "%d s (another dbroker editing it?): run the command again when "
				   "it is done (the file is unchanged)", pid, path,
				   EDIT_LOCK_WAIT_MS / 1000);
	if (st.st_mode & (S_IRGRP | S_IROTH))
		return dbr_err_set(err, DBR_E_TIMEOUT, "process %ld of another user (uid %u) has "
				   "held a lock on '%s' for %d s: whoever can open the file can lock "
				   "it, and it is readable by group or others; run 'chmod go-r %s' "
				   "so that no one else can, then run the command again once that "
				   "process has let go (ask its owner or an administrator); the file "
				   "is unchanged", pid, (unsigned)uid, path, EDIT_LOCK_WAIT_MS / 1000,
				   path);
	return dbr_err_set(err, DBR_E_TIMEOUT, "process %ld of another user (uid %u) has held a "
			   "lock on '%s' for %d s: run the command again once that process has "
			   "let go (ask its owner or an administrator); the file is unchanged",
			   pid, (unsigned)uid, path, EDIT_LOCK_WAIT_MS / 1000);
}

/* Open and lock the file at path against another dbroker editing it (flock,
 * on the file itself). The file that holds the lock must still be the one
 * at path: an edit that finished meanwhile renamed a new file there, which
 * is locked in turn. Waits at most EDIT_LOCK_WAIT_MS (anyone who can open
 * the file can hold the lock); where the file system has no locks, not
 * locked. Returns 0 with *fd (to read with
 * dbr_config_read_fd), 1 when there is no file, or DBR_E_UNSAFE_PERM /
 * DBR_E_IO / DBR_E_TIMEOUT / DBR_E_INTERRUPTED with err. */
static int lock_file(const char *path, int *fd, struct dbr_err *err)
{
	long waited = 0;

	*fd = -1;
	for (;;) {
		struct stat locked, now;
		int lfd, rc = dbr_config_open_file(path, &lfd, err);

		if (rc)
			return rc;
		while ((rc = flock(lfd, LOCK_EX | LOCK_NB)) != 0 && errno == EWOULDBLOCK &&
		       waited < EDIT_LOCK_WAIT_MS) {
			rc = dbr_sleep_ms(EDIT_LOCK_POLL_MS);
			if (rc) {
				close(lfd);
				return dbr_err_set(err, rc, "interrupted while waiting to edit '%s' "
						   "(the file is unchanged)", path);
			}
			waited += EDIT_LOCK_POLL_MS;
		}
		/* a file system without flock (some NFS mounts, FUSE): go on
		 * without the lock. Two edits at once are then not one after the
		 * other, but unchanged_since still refuses to rename over a file
		 * that another edit (or program) changed since it was read. */
		if (rc != 0 && (errno == ENOLCK || errno == EOPNOTSUPP))
			rc = 0;
		if (rc != 0) {
			int e = errno;

			if (e == EWOULDBLOCK) {
				rc = held_too_long(path, lfd, err);
				close(lfd);
				return rc;
			}
			close(lfd);
			return dbr_err_set(err, DBR_E_IO, "cannot lock '%s': %s (the file is "
					   "unchanged)", path, strerror(e));
		}
		if (fstat(lfd, &locked) == 0 && lstat(path, &now) == 0 && same_file(&locked, &now)) {
			*fd = lfd;
			return 0;
		}
		close(lfd); /* replaced while we waited: lock the new one */
	}
}

/* The file at path is still exactly the one read (not rewritten or
 * replaced by a program that does not take the lock). Inherent limit: a
 * change between this lstat and the rename, or a same-size rewrite within
 * the file system's timestamp granularity, is not seen. */
static int unchanged_since(const char *path, const struct stat *st)
{
	struct stat now;

	return lstat(path, &now) == 0 && same_file(st, &now) && now.st_size == st->st_size &&
	       now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	       now.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       now.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	       now.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/* Give fd (a new file) st's mode and owner and data, flushed to disk. An
 * owner we may not give the file to (root) stays ours; a group we are not
 * in stays ours too, and then the group bits go: kept, they would open the
 * file (the other profiles' secrets) to our group instead of its own.
 * Returns 0, or -1 with errno. */
static int write_synced(int fd, const struct stat *st, const struct dbr_buf *data)
{
	mode_t mode = st->st_mode & 07777;

	if (fchown(fd, st->st_uid, st->st_gid) != 0) {
		if (errno != EPERM)
			return -1;
		if (fchown(fd, (uid_t)-1, st->st_gid) != 0) {
			if (errno != EPERM)
				return -1;
			mode &= ~(mode_t)S_IRWXG;
		}
	}
	/* after the chown, which may clear the set-id bits */
	return fchmod(fd, mode) == 0 &&
	       dbr_write_all(fd, data->data ? data->data : "", data->len) == 0 &&
	       fsync(fd) == 0 ? 0 : -1;
}

/* Name fd, an O_TMPFILE already written and flushed, in dir: tmp is set to
 * the name. Returns 0, or -1 with errno (ENOENT: no /proc to link from). */
static int link_tmpfile(int fd, const char *dir, struct dbr_buf *tmp)
{
	char proc[64];
	unsigned char rnd[6];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int tries = 0; tries < 8; tries++) {
		dbr_buf_reset(tmp);
		if (dbr_random_bytes(rnd, sizeof(rnd)) != 0) {
			errno = EIO;
			return -1;
		}
		if (dbr_buf_addf(tmp, "%s/.dbroker-cfg-%02x%02x%02x%02x%02x%02x", dir, rnd[0],
				 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5])) {
			errno = ENOMEM;
			return -1;
		}
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp->data, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1; /* errno is EEXIST */
}

/* The new text in a file of dir, named tmp (set here) only once it is
 * written and flushed: an unnamed O_TMPFILE linked in at the end, so a
 * process killed while writing it leaves nothing behind (the text holds the
 * other profiles' secrets). Only where the file system or the kernel has no
 * O_TMPFILE, or there is no /proc to link it from, a mkstemp file; any
 * other failure (no space, an I/O error) is reported as it is, never
 * retried into a named file. Returns 0, or -1 with errno (nothing left). */
static int write_beside(const char *dir, const struct stat *st, const struct dbr_buf *data,
			struct dbr_buf *tmp)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -1;
	if (fd >= 0) {
		int wrote = write_synced(fd, st, data) == 0;
		int rc = wrote ? link_tmpfile(fd, dir, tmp) : -1;
		int e = errno;

		close(fd);
		if (rc == 0)
			return 0;
		if (!wrote || e != ENOENT) { /* ENOENT from linkat: no /proc */
			errno = e;
			return -1;
		}
	}
	dbr_buf_reset(tmp);
	if (dbr_buf_addf(tmp, "%s/.dbroker-cfg-XXXXXX", dir)) {
		errno = ENOMEM;
		return -1;
	}
	fd = mkstemp(tmp->data);
	if (fd < 0)
		return -1;
	if (write_synced(fd, st, data) != 0 || close(fd) != 0) {
		int e = errno;

		unlink(tmp->data);
		errno = e;
		return -1;
	}
	return 0;
}

/* What to do when the new file cannot be written beside the old one. */
static const char *beside_advice(int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return "free space on that file system";
	if (e == EACCES || e == EPERM || e == EROFS)
		return "the file's directory must be writable by you";
	return "check the file's directory";
}

/* Write data to a new file beside path (same mode and owner), flush it to
 * disk, then rename it over path and flush the directory: readers see the
 * old file or the new one, never a part. Until the rename the old file is
 * untouched; on any failure the temporary file is removed. The file at
 * path must still be st, the one read. */
static int replace_file(const char *path, const struct stat *st, const struct dbr_buf *data,
			struct dbr_err *err)
{
	struct dbr_buf tmp = DBR_BUF_INIT(4096 + 64);
	char *copy = strdup(path);
	const char *dir;
	int dfd, rc = 0;

	if (!copy) {
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		goto out;
	}
	dir = dirname(copy);
	if (write_beside(dir, st, data, &tmp) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot write a new file beside '%s': %s (the file "
				 "is unchanged): %s, then run the command again", path,
				 strerror(errno), beside_advice(errno));
		goto out;
	}
	if (!unchanged_since(path, st))
		rc = dbr_err_set(err, DBR_E_IO, "'%s' was changed by another program while dbroker "
				 "was editing it: nothing was removed (the file is as that program "
				 "left it); run the command again", path);
	else if (rename(tmp.data, path) != 0)
		rc = dbr_err_set(err, DBR_E_IO, "cannot rewrite '%s': %s (the file is unchanged)",
				 path, strerror(errno));
	if (rc) {
		unlink(tmp.data);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(copy);
	dbr_buf_release(&tmp);
	return rc;
}

int dbr_config_remove_token(const struct dbr_config *c, size_t *removed, struct dbr_err *err)
{
	return dbr_config_remove_secret(c, "token", removed, err);
}

int dbr_config_remove_secret(const struct dbr_config *c, const char *key, size_t *removed,
			     struct dbr_err *err)
{
	struct dbr_buf in = DBR_BUF_INIT_WIPE((size_t)DBR_CONFIG_MAX_BYTES + 1);
	struct dbr_buf out = DBR_BUF_INIT_WIPE((size_t)DBR_CONFIG_MAX_BYTES + 1);
	struct dbr_config_lines lines = { NULL, 0, 0 }, left = { NULL, 0, 0 };
	const char *path = dbr_config_path(c), *profile = dbr_config_profile(c);
	struct stat st;
	int readable, lfd = -1, rc;

	if (!removed)
		return dbr_err_set(err, DBR_E_INVAL, "dbr_config_remove_token: removed is NULL");
	*removed = 0;
	/* two edits at once (two logins) would each write back what they
	 * read, putting back the line the other removed: one at a time */
	rc = lock_file(path, &lfd, err);
	if (rc == 0) /* the file locked, not the path again */
		rc = dbr_config_read_fd(lfd, path, &in, &readable, &st, err);
	if (rc == 1)
		rc = 0; /* no file: nothing to remove */
	if (rc || !in.len)
		goto out;
	rc = dbr_config_token_lines(path, profile, key, &in, &lines, err);
	if (rc || lines.n == 0)
		goto out;
	rc = drop_lines(&in, &lines, &out);
	/* the new text, read back by the same parser, holds no token there */
	if (rc == 0)
		rc = dbr_config_token_lines(path, profile, key, &out, &left, err);
	if (rc == 0 && left.n)
		rc = DBR_E_INTERNAL;
	if (rc) {
		if (!err || !err->msg[0] || rc == DBR_E_INTERNAL)
			dbr_err_set(err, rc, "cannot remove the %s lines of profile '%s' from "
				    "'%s' safely (the file is unchanged): delete them by hand",
				    key, profile, path);
		goto out;
	}
	rc = replace_file(path, &st, &out, err);
	if (rc == 0)
		*removed = lines.n;
out:
	if (lfd >= 0)
		close(lfd); /* after the rename: the next edit reads the new file */
	free(lines.r);
	free(left.r);
	dbr_buf_release(&in);
	dbr_buf_release(&out);
	return rc;
}
