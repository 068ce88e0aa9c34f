/* dbroker-layer: api */
/* Token API: personal access tokens minted, listed and revoked with the
 * client's credential (POST /api/2.0/token/create, GET token/list, POST
 * token/delete). A minted token's value is a secret handle, never a string:
 * the caller registers it with the masker before anything can print it. */
#ifndef DBROKER_TOKENS_H
#define DBROKER_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_client;
struct dbr_secret;

#define DBR_TOKENS_API "/api/2.0/token"
/* The Token API takes comments of at most this many bytes here. */
#define DBR_TOKEN_COMMENT_MAX 255

/* What the workspace tells about a token (never its value). Strings are ""
 * when absent; times are milliseconds since the epoch, -1 for a token that
 * never expires. */
struct dbr_token_info {
	char token_id[128];
	char comment[DBR_TOKEN_COMMENT_MAX + 1];
	int64_t creation_time_ms;
	int64_t expiry_time_ms;
};

/* A token minted by dbr_tokens_create(): its id and its value. */
struct dbr_minted_token {
	struct dbr_token_info info;
	struct dbr_secret *value;  /* owned; freed by dbr_minted_token_release */
};

#define DBR_MINTED_TOKEN_INIT { { "", "", 0, 0 }, NULL }

/* Mint a token that lives lifetime_s seconds (> 0: dbroker never makes a
 * token that does not expire) with comment (printable, at most
 * DBR_TOKEN_COMMENT_MAX bytes; may be NULL). The call is not retried (a
 * second attempt could mint a second token). out is released first and
 * filled on success (release with dbr_minted_token_release). The answer's
 * body is kept out of the --debug trace. Returns 0, DBR_E_INVAL (bad
 * lifetime or comment: nothing sent), DBR_E_API (an error answer, or one
 * without token_value), DBR_E_MAYBE_APPLIED (a 2xx answer without a usable
 * token_id: one missing, over 127 bytes or with characters token/delete
 * refuses; the token was made and cannot be revoked by its id, look for it
 * with dbr_tokens_find), the request module's other codes. A token
 * made but not held (DBR_E_SECMEM under --strict, DBR_E_NOMEM,
 * DBR_E_TOO_LARGE: a value over DBR_SECRET_MAX) is revoked before it
 * returns that code; err says whether the revocation worked, and else
 * names the token id to revoke. */
DBR_API int dbr_tokens_create(struct dbr_client *c, long lifetime_s, const char *comment,
			      struct dbr_minted_token *out, struct dbr_err *err);

/* Write the minted value, then a newline, to fd, which must not be a
 * terminal (a pipe or a file another tool reads once). Returns 0,
 * DBR_E_INVAL (no value, or fd is a terminal: nothing written), DBR_E_IO. */
DBR_API int dbr_minted_token_write(const struct dbr_minted_token *t, int fd,
				   struct dbr_err *err);

/* Wipe and free the value and clear the struct. NULL is a no-op. */
DBR_API void dbr_minted_token_release(struct dbr_minted_token *t);

/* Every token of the credential's user. *out (malloc'ed array, free()) and
 * *n are cleared on entry and set on success (*out may be NULL when *n is
 * 0). Returns 0, DBR_E_API (an error answer or one that is not a token
 * list), the request module's other codes. */
DBR_API int dbr_tokens_list(struct dbr_client *c, struct dbr_token_info **out, size_t *n,
			    struct dbr_err *err);

/* What a dbr_tokens_create() whose answer was lost may have made (it
 * failed with dbr_client_outcome_unknown() set, or DBR_E_MAYBE_APPLIED):
 * the caller's live tokens whose comment is exactly comment, whose
 * lifetime is lifetime_s (when the answer says both times) and that were
 * created at or after since_ms
 * (the workspace's clock in ms; 0: any time). A comment with a part of its
 * own (a random run id) finds exactly the token; others may find tokens
 * made by another run with the same comment. *out and *n as
 * dbr_tokens_list. */
DBR_API int dbr_tokens_find(struct dbr_client *c, const char *comment, long lifetime_s,
			    int64_t since_ms, struct dbr_token_info **out, size_t *n,
			    struct dbr_err *err);

/* Revoke a token by id (retried on 429/503 and network errors: deleting
 * twice is harmless). Returns 0, DBR_E_INVAL (empty or odd id: nothing
 * sent), DBR_E_API (e.g. no such token), the request module's other codes. */
DBR_API int dbr_tokens_delete(struct dbr_client *c, const char *token_id,
			      struct dbr_err *err);

/* Revoke a token this caller made: dbr_tokens_delete(), and when the
 * workspace refuses it (DBR_E_API: a 404 for a retry whose first attempt,
 * its answer lost, revoked it; or someone revoked it first), a success when
 * token/list no longer shows it. Returns what dbr_tokens_delete() returns,
 * or 0 for a token that is gone. */
DBR_API int dbr_tokens_revoke(struct dbr_client *c, const char *token_id,
			      struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
