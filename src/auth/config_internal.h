/* The configuration file reader and parser, for the code that edits the
 * file (config_edit.c): one parser, one truth. Internal to libdbroker. */
#ifndef DBROKER_CONFIG_INTERNAL_H
#define DBROKER_CONFIG_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>

#include "buf.h"
#include "dbroker/config.h"

/* A line of the file: bytes [start, end), its line break included. */
struct dbr_config_range {
	size_t start;
	size_t end;
};

struct dbr_config_lines {
	struct dbr_config_range *r; /* malloc'ed; free() */
	size_t n;
	size_t alloc;
};

/* The file to read: path if given, else $DATABRICKS_CONFIG_FILE, else
 * ~/.databrickscfg. *out is malloc'ed. Returns 0 or DBR_E_* with err. */
int dbr_config_resolve_path(const char *path, char **out, struct dbr_err *err);

/* Read path into b (a wiping buffer of max DBR_CONFIG_MAX_BYTES + 1) with the
 * checks dbr_config_load makes (no link, a regular file, owner root or you,
 * not writable by group/others, the size cap). Returns 0, 1 when the file
 * does not exist, or DBR_E_UNSAFE_PERM / DBR_E_IO / DBR_E_CONFIG (over the
 * size cap, at the fstat or grown past it while read) / DBR_E_NOMEM with
 * err. *readable is set when group or others may read it. */
int dbr_config_read_file(const char *path, struct dbr_buf *b, int *readable,
			 struct dbr_err *err);

/* The two halves of dbr_config_read_file, for a caller that must read the
 * very file it holds open (config_edit.c locks it first). Open path (no
 * link followed, O_NONBLOCK): 0 with *fd, 1 when the file does not exist,
 * or DBR_E_UNSAFE_PERM (a link) / DBR_E_IO with err. */
int dbr_config_open_file(const char *path, int *fd, struct dbr_err *err);

/* Read fd, from dbr_config_open_file, into b with all the checks of
 * dbr_config_read_file (path is for messages); *st is the fstat they were
 * made on. Returns as dbr_config_read_file does (1: /dev/null). fd stays
 * open. */
int dbr_config_read_fd(int fd, const char *path, struct dbr_buf *b, int *readable,
		       struct stat *st, struct dbr_err *err);

/* Parse buf exactly as dbr_config_load does and append to lines the byte
 * range of every line that sets key ("token" or "client_secret") in profile (repeated sections and
 * keys before the first section for DEFAULT included; a UTF-8 BOM stays
 * out of the first line's range). Returns 0, DBR_E_CONFIG (a syntax
 * error: nothing to edit safely) or DBR_E_NOMEM, with err. */
int dbr_config_token_lines(const char *path, const char *profile, const char *key,
			   const struct dbr_buf *buf, struct dbr_config_lines *lines,
			   struct dbr_err *err);

#endif
