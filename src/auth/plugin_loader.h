/* Finding, checking and loading provider plugins. Internal to libdbroker.
 *
 * A plugin is "<dir>/<name>.so" exporting dbroker_provider_<name>() (see
 * dbroker/provider.h). It runs with all of dbroker's privileges and sees the
 * tokens it resolves, so it is loaded only from a file and directory chain
 * that no one but root and the user can change (OpenSSH safe_path rules),
 * and its descriptor is checked before the host calls anything in it.
 */
#ifndef DBROKER_PLUGIN_LOADER_H
#define DBROKER_PLUGIN_LOADER_H

#include "dbroker/errors.h"
#include "dbroker/provider.h"

/* Longest provider name. Names are [a-z0-9_]{1,DBR_PROVIDER_NAME_MAX}. */
#define DBR_PROVIDER_NAME_MAX 32

/* 1 if name is a valid provider name ([a-z0-9_], 1 to 32 characters), else
 * 0 (NULL is invalid). */
int dbr_provider_name_valid(const char *name);

/* OpenSSH safe_path rules for a file that decides what dbroker runs.
 * path itself (lstat: a symbolic link is refused) must be a regular file
 * owned by root or the effective uid and not writable by group or others.
 * Its directory and every directory above it (after realpath) up to "/"
 * must be owned by root or the effective uid and not group/other-writable;
 * a root-owned sticky directory (like /tmp) is allowed above the file's own
 * directory, never as that directory.
 * Returns 0, DBR_E_UNSAFE_PERM (the message names the offending path, its
 * owner uid and mode, and the fix), or DBR_E_IO (path or a directory cannot
 * be examined; errno text in the message). */
int dbr_path_check_safe(const char *path, struct dbr_err *err);

/* Check a provider descriptor before any of its functions is called. Used
 * for plugins and built-in providers alike. origin names where p came from
 * in messages (the plugin's path, or "built-in"; NULL reads "unknown").
 * Rules: abi_major == DBR_PROVIDER_ABI_MAJOR and abi_minor <=
 * DBR_PROVIDER_ABI_MINOR (else DBR_E_PLUGIN_ABI, naming both versions);
 * struct_size covers every field up to fini; name is valid
 * (dbr_provider_name_valid); init and resolve are set; reserved[] is NULL
 * (else DBR_E_PLUGIN). p == NULL is DBR_E_PLUGIN. Returns 0 or those codes. */
int dbr_provider_validate(const struct dbr_provider *p, const char *origin,
			  struct dbr_err *err);

/* Load provider name from dir (NULL: dbr_plugin_dir_default()).
 * Steps: name must be valid (else DBR_E_INVAL); "<dir>/<name>.so" must exist
 * (else DBR_E_PLUGIN "provider plugin 'NAME' is not installed (looked for
 * PATH)"); the directory chain and the file must pass the safe-path rules
 * (DBR_E_UNSAFE_PERM; the file is opened with O_NOFOLLOW and checked through
 * that fd, then loaded through /proc/self/fd so the checked file is the one
 * mapped); dlopen(RTLD_NOW | RTLD_LOCAL) (DBR_E_PLUGIN with dlerror());
 * dbroker_provider_<name> must be exported and return a descriptor
 * (DBR_E_PLUGIN naming the symbol); dbr_provider_validate(); the
 * descriptor's name must equal name (DBR_E_PLUGIN).
 * On success *out points at the plugin's static descriptor; it stays valid
 * for the life of the process. Plugins are never unloaded, even when
 * rejected (see plugin_loader.c). Also returns DBR_E_NOMEM or DBR_E_IO. */
int dbr_plugin_load(const char *dir, const char *name,
		    const struct dbr_provider **out, struct dbr_err *err);

/* Where plugins are looked for: $DBROKER_PLUGIN_DIR when set and non-empty
 * (ignored in secure-execution mode, like any environment setting that
 * decides what code runs), else the installed directory: the configured
 * absolute one, or the one relative to where libdbroker was loaded from (a
 * relocatable prefix). Never NULL; owned by the environment or static. */
const char *dbr_plugin_dir_default(void);

#endif
