/* dbroker-layer: auth */
/* Profiles from ~/.databrickscfg, with the official tools' semantics.
 *
 * The file is INI (parsed with libinih). The profile is chosen by the caller,
 * else DATABRICKS_CONFIG_PROFILE, else "DEFAULT". [DEFAULT] is NOT merged into
 * named profiles. Naming a profile that does not exist is an error; an
 * implicit DEFAULT that does not exist is an empty profile.
 *
 * dbroker's own keys live in the same profile: broker_chain, vault_addr,
 * vault_path, ca_cert, keyring_collection, ...
 *
 * The file must be a regular file (not a symbolic link), owned by the user
 * (or root) and not writable by group or others (it decides where tokens
 * come from and which CA is trusted). A plaintext `token` or `client_secret`
 * is never kept as a string: it is moved into a secret handle while parsing
 * and the file buffer is wiped. Other credential-looking keys (password, client_secret, *_token,
 * *_secret, ...) are not kept at all. Only the chosen profile is kept.
 *
 * Parsing follows the official Go tools where INI dialects differ: keys
 * before the first [section] belong to DEFAULT, indentation is not a
 * continuation line, a profile exists when it has at least one key. Keys
 * compare case-insensitively; a repeated key's last value wins; repeated
 * sections merge. Lines are limited to what libinih's buffer holds (about
 * 200 bytes): longer lines are an error, not silently cut.
 */
#ifndef DBROKER_CONFIG_H
#define DBROKER_CONFIG_H

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_config;
struct dbr_log;
struct dbr_secret;

/* Largest configuration file read. */
#define DBR_CONFIG_MAX_BYTES (1024 * 1024)

/* Load a profile.
 * path: the file, or NULL for $DATABRICKS_CONFIG_FILE, else ~/.databrickscfg.
 * profile: the profile, or NULL for $DATABRICKS_CONFIG_PROFILE, else DEFAULT.
 * log: for warnings (may be NULL).
 * A missing file is an empty config unless a profile was named explicitly
 * (argument or environment), which is DBR_E_NO_PROFILE.
 * Warns through log when the profile holds a plaintext token.
 * *out is owned by the caller (dbr_config_free).
 * Returns 0, DBR_E_NO_PROFILE (the message lists the profiles the file has),
 * DBR_E_CONFIG (syntax, the message has path and line; or a file over
 * DBR_CONFIG_MAX_BYTES, the message has path), DBR_E_UNSAFE_PERM, DBR_E_IO,
 * DBR_E_INVAL (empty profile name), DBR_E_NOMEM. */
DBR_API int dbr_config_load(const char *path, const char *profile,
			    struct dbr_log *log, struct dbr_config **out,
			    struct dbr_err *err);

/* An empty config (no file): for tests and for running without a profile. */
DBR_API int dbr_config_new_empty(struct dbr_config **out);

/* Wipe the plaintext token if still held, release. NULL is a no-op. */
DBR_API void dbr_config_free(struct dbr_config *c);

/* Value of key (case-insensitive) in the profile, or NULL. Never returns the
 * token or any other credential-looking key. The string is owned by the
 * config and valid until the key is set again or the config is freed. */
DBR_API const char *dbr_config_get(const struct dbr_config *c, const char *key);

/* The first key of the profile (as written) that starts with prefix
 * (case-insensitive), e.g. "vault_" finds "vault_path"; NULL if none or
 * prefix is empty. Owned by the config. Credential-looking keys are never
 * kept, so never found. */
DBR_API const char *dbr_config_key_with_prefix(const struct dbr_config *c,
					       const char *prefix);

/* Set or override a key (e.g. from a command-line flag). Refuses "token"
 * and other credential-looking keys (DBR_E_SECRET_FLAG), an empty key and
 * keys or values with CR or LF (DBR_E_INVAL). Returns 0, those, or
 * DBR_E_NOMEM. */
DBR_API int dbr_config_set(struct dbr_config *c, const char *key,
			   const char *value);

/* The file path used (even if it does not exist), never NULL ("" for
 * dbr_config_new_empty). */
DBR_API const char *dbr_config_path(const struct dbr_config *c);

/* The profile name in use, never NULL. */
DBR_API const char *dbr_config_profile(const struct dbr_config *c);

/* 1 if the profile was found in the file. */
DBR_API int dbr_config_profile_found(const struct dbr_config *c);

/* 1 if the profile holds a plaintext token. */
DBR_API int dbr_config_has_token(const struct dbr_config *c);

/* The first line of the file that is a comment holding something shaped
 * like a token or secret ("# token = dapi...": still a plaintext secret on
 * disk), or 0. */
DBR_API int dbr_config_secret_comment_line(const struct dbr_config *c);

/* The first line of the profile that sets a plaintext token or client
 * secret which a later empty line ("token =") cancels, when the profile
 * ends with neither: the secret is unused but still on disk. Else 0. */
DBR_API int dbr_config_emptied_secret_line(const struct dbr_config *c);

/* 1 if the profile holds a plaintext token or client secret and the file
 * is readable by group or others. */
DBR_API int dbr_config_token_exposed(const struct dbr_config *c);

/* Delete the lines that set the profile's plaintext `token` from c's file:
 * exactly the lines dbr_config_load() parses as that (the same parser, by
 * the byte ranges it reports: a BOM, CRLF, \v, tabs, repeated sections,
 * comments after values, a missing final newline are read the same way),
 * every other byte kept. The file is read again with the same checks, the
 * result is parsed again to prove the token is gone, then written to a
 * temporary file beside it (same mode and owner), flushed, and renamed over
 * it: the file is never half-written, and unchanged on any failure. Edits
 * take an exclusive flock on the file (not where its file system has no
 * locks: ENOLCK, EOPNOTSUPP), waiting up to 10 s for another edit to
 * finish (then DBR_E_TIMEOUT; DBR_E_INTERRUPTED when interrupted), and a
 * file changed meanwhile by a program that takes no lock is left as it is
 * (DBR_E_IO). Buffers are wiped. *removed is the number of lines removed
 * (0: there were none; the file is not touched). Returns 0, DBR_E_CONFIG
 * (the file does not parse, or is now over DBR_CONFIG_MAX_BYTES),
 * DBR_E_UNSAFE_PERM, DBR_E_IO, DBR_E_TIMEOUT, DBR_E_INTERRUPTED,
 * DBR_E_NOMEM, DBR_E_INTERNAL, with err. */
DBR_API int dbr_config_remove_token(const struct dbr_config *c, size_t *removed,
				    struct dbr_err *err);

/* The same for the lines of key ("token" or "client_secret"). */
DBR_API int dbr_config_remove_secret(const struct dbr_config *c, const char *key,
				     size_t *removed, struct dbr_err *err);

/* Hand the plaintext token to the caller: *out is a new handle owned by the
 * caller. Returns 0, DBR_E_NOT_HERE (no token), DBR_E_NOMEM. */
DBR_API int dbr_config_copy_token(const struct dbr_config *c,
				  struct dbr_secret **out);

/* 1 if the profile holds a plaintext OAuth `client_secret`. */
DBR_API int dbr_config_has_client_secret(const struct dbr_config *c);

/* Hand the plaintext client secret to the caller: *out is a new handle
 * owned by the caller. Returns 0, DBR_E_NOT_HERE (none), DBR_E_NOMEM. */
DBR_API int dbr_config_copy_client_secret(const struct dbr_config *c,
					  struct dbr_secret **out);

#ifdef __cplusplus
}
#endif
#endif
