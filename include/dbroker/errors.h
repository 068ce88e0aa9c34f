/* dbroker-layer: core */
/* dbroker error codes.
 *
 * Every library function that can fail returns int: 0 on success or one of
 * the negative DBR_E* codes below. Codes only ever grow; a value is never
 * reused or renumbered, so callers and plugins built against an older header
 * keep working.
 *
 * Functions that can explain a failure take a trailing `struct dbr_err *err`
 * (may be NULL). On failure they fill it with the code and a human message;
 * the message may name files, profiles and providers but never secret bytes,
 * and the CLI still passes it through the masker before anyone sees it.
 */
#ifndef DBROKER_ERRORS_H
#define DBROKER_ERRORS_H

#include <stddef.h>

#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dbr_error {
	DBR_OK = 0,
	DBR_E_NOMEM = -1,        /* allocation failed */
	DBR_E_INVAL = -2,        /* invalid argument or malformed input */
	DBR_E_IO = -3,           /* read/write/open failed (errno kept in message) */
	DBR_E_UNSAFE_PERM = -4,  /* file or directory owner/mode is unsafe */
	DBR_E_NOT_HERE = -5,     /* provider: no credential in this source */
	DBR_E_CONFIG = -6,       /* configuration file is malformed */
	DBR_E_NO_PROFILE = -7,   /* the named profile does not exist */
	DBR_E_PLUGIN = -8,       /* a plugin could not be found or loaded */
	DBR_E_PLUGIN_ABI = -9,   /* a plugin speaks an incompatible ABI */
	DBR_E_SHORT_SECRET = -10,/* secret too short to be masked safely */
	DBR_E_TOO_LARGE = -11,   /* a size cap was exceeded */
	DBR_E_NO_CREDENTIAL = -12,/* no provider in the chain had a credential */
	DBR_E_PROVIDER = -13,    /* a provider failed (the chain stops) */
	DBR_E_SECMEM = -14,      /* locked secure memory is unavailable */
	DBR_E_AUTH = -15,        /* the server rejected the credential */
	DBR_E_API = -16,         /* the server answered with an error */
	DBR_E_TIMEOUT = -17,     /* an operation timed out */
	DBR_E_NETWORK = -18,     /* connection failure */
	DBR_E_TLS = -19,         /* TLS verification or handshake failure */
	DBR_E_SECRET_FLAG = -20, /* a secret was offered on the command line */
	DBR_E_USAGE = -21,       /* bad command-line usage */
	DBR_E_INTERNAL = -22,    /* a bug: an invariant did not hold */
	DBR_E_INTERRUPTED = -23, /* the user interrupted the operation */
	DBR_E_CLUSTER_FAILED = -24, /* a cluster ended in ERROR or TERMINATED */
	DBR_E_RUN_FAILED = -25,  /* a job run ended without SUCCESS */
	DBR_E_MAYBE_APPLIED = -26, /* the request may have taken effect: the
				      outcome is unknown */
	DBR_E_UNREACHABLE = -27, /* connection refused or no route to the
				    host (retried for a short window) */
	DBR_E_NO_SUCH_HOST = -28,/* the host name does not exist */
	DBR_E_REDIRECT = -29,    /* a redirect dbroker refuses to follow (never retried) */
	DBR_E_AGENT = -30,       /* the agent went away mid-request or broke its
				    protocol */
};

/* Size of the message buffer in struct dbr_err. Longer messages are
 * truncated at a UTF-8 boundary. */
#define DBR_ERR_MSG_MAX 1024

struct dbr_err {
	int code;                   /* 0 or a DBR_E* code */
	char msg[DBR_ERR_MSG_MAX];  /* NUL-terminated, "" when none */
};

#define DBR_ERR_INIT { 0, { 0 } }

/* Static, never NULL, English description of a code ("unknown error" for
 * codes this build does not know). */
DBR_API const char *dbr_strerror(int code);

/* Fill err (if non-NULL) with code and a printf-style message. Returns code,
 * so callers can write `return dbr_err_set(err, DBR_E_IO, "...")`. */
DBR_API int dbr_err_set(struct dbr_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset err to "no error". */
DBR_API void dbr_err_clear(struct dbr_err *err);

/* Stable short name of a code, e.g. "DBR_E_AUTH", for JSON output. */
DBR_API const char *dbr_strerror_name(int code);

#ifdef __cplusplus
}
#endif
#endif
