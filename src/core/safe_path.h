/* Who may change a file that decides where the token goes or what code runs.
 * Internal to libdbroker (every layer): the OpenSSH safe_path walk, shared by
 * the plugin loader (auth) and the TLS trust checks (net). */
#ifndef DBROKER_SAFE_PATH_H
#define DBROKER_SAFE_PATH_H

#include <sys/stat.h>

#include "dbroker/errors.h"

/* Words for the messages of one kind of file (all static strings). */
struct dbr_path_purpose {
	const char *dir_noun;   /* the file's own directory, e.g. "plugin directory" */
	const char *dir_risk;   /* "who could plant or replace plugins" */
	const char *file_risk;  /* "who could change the code dbroker runs" */
	const char *elsewhere;  /* "install plugins elsewhere" */
	int follow_links;       /* 0: a symbolic link is refused; 1: followed, and
				   the directory of every link on the way checked */
	int sticky_dir_ok;      /* 1: the file's own directory may be a root-owned
				   sticky one (/tmp): for one file of a known name
				   whose owner is checked, which no one else can
				   rename or remove there */
};

extern const struct dbr_path_purpose dbr_path_plugin;
extern const struct dbr_path_purpose dbr_path_ca;
extern const struct dbr_path_purpose dbr_path_config;

/* The file itself (from lstat or fstat): a regular file (a link only when
 * the purpose follows links and st is the target's), owned by root or the
 * effective uid, not writable by group or others. Returns 0 or
 * DBR_E_UNSAFE_PERM with the path, owner, mode and the fix in err. */
int dbr_path_check_file_stat(const char *path, const struct stat *st,
			     const struct dbr_path_purpose *why, struct dbr_err *err);

/* Walk realdir (absolute, from realpath) up to "/": every directory owned by
 * root or the effective uid and not writable by group or others; above the
 * first one (and there too with why->sticky_dir_ok) a root-owned sticky
 * directory (/tmp) is allowed. Returns 0,
 * DBR_E_UNSAFE_PERM, DBR_E_IO or DBR_E_NOMEM, with err. */
int dbr_path_check_dir_chain(const char *realdir, const struct dbr_path_purpose *why,
			     struct dbr_err *err);

/* The directory chain (dbr_path_check_dir_chain) of the real directory
 * that holds path. Returns what that returns, or DBR_E_IO when the
 * directory cannot be resolved. */
int dbr_path_check_parent(const char *path, const struct dbr_path_purpose *why,
			  struct dbr_err *err);

/* realpath() of the directory part of path into *out (malloc'd). Returns 0,
 * DBR_E_NOMEM, or the errno of a failed realpath (positive) so callers can
 * tell "missing" from other failures. */
int dbr_path_real_dir(const char *path, char **out);

/* The whole rule for a file: dbr_path_check_file_stat() on path, then the
 * directory chain of its real directory. With why->follow_links a symbolic
 * link is followed (at most 40 hops) and the directory holding each link is
 * checked too (whoever can write there can point the link elsewhere).
 * Returns 0, DBR_E_UNSAFE_PERM (message names the offending path, its owner
 * uid and mode, and the chmod/chown that fixes it), DBR_E_IO (cannot be
 * examined), DBR_E_INVAL (empty path) or DBR_E_NOMEM. */
int dbr_path_check(const char *path, const struct dbr_path_purpose *why,
		   struct dbr_err *err);

/* A directory of files (a hashed CA directory): the directory chain of
 * path, then dbr_path_check() on every entry in it except "." and "..".
 * Returns what dbr_path_check() returns. */
int dbr_path_check_dir_files(const char *path, const struct dbr_path_purpose *why,
			     struct dbr_err *err);

#endif
