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
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "dbroker/os.h"
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

/* Write data to a new file beside path (same mode and owner), flush it to
 * disk, then rename it over path and flush the directory: readers see the
 * old file or the new one, never a part. Until the rename the old file is
 * untouched; on any failure the temporary file is removed. */
static int replace_file(const char *path, const struct stat *st, const struct dbr_buf *data,
			struct dbr_err *err)
{
	struct dbr_buf tmp = DBR_BUF_INIT(4096 + 64);
	char *dir = strdup(path);
	int fd = -1, dfd, rc = 0;

	if (!dir || dbr_buf_addf(&tmp, "%s/.dbroker-cfg-XXXXXX", dirname(dir))) {
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		goto out;
	}
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot create a temporary file beside '%s': %s "
				 "(the file is unchanged)", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, st->st_mode & 07777) != 0 ||
	    (fchown(fd, st->st_uid, st->st_gid) != 0 && errno != EPERM) ||
	    dbr_write_all(fd, data->data ? data->data : "", data->len) != 0 || fsync(fd) != 0 ||
	    close(fd) != 0 || (fd = -1, rename(tmp.data, path) != 0)) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot rewrite '%s': %s (the file is unchanged)",
				 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp.data);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(dir);
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
	int readable, rc;

	if (!removed)
		return dbr_err_set(err, DBR_E_INVAL, "dbr_config_remove_token: removed is NULL");
	*removed = 0;
	rc = dbr_config_read_file(path, &in, &readable, err);
	if (rc == 1)
		rc = 0; /* no file: nothing to remove */
	if (rc || !in.len)
		goto out;
	if (stat(path, &st) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", path, strerror(errno));
		goto out;
	}
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
	free(lines.r);
	free(left.r);
	dbr_buf_release(&in);
	dbr_buf_release(&out);
	return rc;
}
