/* Shared by cluster_spec.c (lifecycle, parse, set, idempotency),
 * cluster_spec_json.c (strict JSON syntax check, messages) and
 * cluster_spec_validate.c (the field table and the rules). Internal.
 */
#ifndef DBROKER_CLUSTER_SPEC_INTERNAL_H
#define DBROKER_CLUSTER_SPEC_INTERNAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbroker/cluster_spec.h"

/* The spec is a cJSON object (allocated through the runtime's wiping
 * hooks). Keys are unique: parse refuses duplicates, set replaces. Look
 * keys up with the *CaseSensitive cJSON functions only. */
struct dbr_cluster_spec {
	cJSON *root;
};

/* JSON type of a create-body field, as the server expects it. */
enum spec_type {
	SPEC_STRING,
	SPEC_ENUM,     /* a string from spec_field.values */
	SPEC_INT32,
	SPEC_BOOL,
	SPEC_MAP,      /* object of string values */
	SPEC_STRINGS,  /* array of strings */
	SPEC_OBJECTS,  /* array of objects */
	SPEC_OBJECT,
};

struct spec_field {
	const char *name;
	enum spec_type type;
	const char *const *values;  /* SPEC_ENUM: NULL-terminated list */
	int max_entries;            /* SPEC_MAP/STRINGS: 0 = no limit */
};

/* The known create-body field called name, or NULL. */
const struct spec_field *spec_field_find(const char *name);

/* 1 if type can be set from a command-line flag (string, enum, int, bool). */
int spec_type_settable(enum spec_type type);

/* Strict RFC 8259 syntax check of a top-level object, run before cJSON
 * (which accepts 01, raw control characters and stray text, and reports
 * positions up to a byte off). noun names the document ("spec", "run").
 * Returns 0 or DBR_E_INVAL with "origin:LINE:COLUMN: what" and an excerpt
 * of the line in err. */
int spec_json_check(const char *json, size_t len, const char *origin, const char *noun,
		    struct dbr_err *err);

/* First duplicate key anywhere in the tree: 1 with its field path in path
 * (cap bytes, always NUL-terminated), 0 when keys are unique,
 * DBR_E_NOMEM. */
int spec_find_duplicate(const cJSON *root, char *path, size_t cap);

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * when it is not one (overlong, surrogate, truncated, > U+10FFFF). */
size_t spec_utf8_len(const unsigned char *s, size_t n);

/* 1 if s[0..n) is well-formed UTF-8. */
int spec_utf8_valid(const char *s, size_t n);

/* Length of s cut to at most max bytes at a character boundary: use as
 * "%.*s" precision to quote user text in messages. */
int spec_clip(const char *s, size_t max);

/* Replace control bytes with '?' so user text cannot break a message
 * apart or drive the terminal. */
void spec_sanitize(char *s);

/* Append key to a field path in path[cap] of length len: "a.b" for plain
 * names, a["b.c"] otherwise; the key is clipped and sanitised. Returns the
 * new length (truncated paths stay NUL-terminated). */
size_t spec_path_add(char *path, size_t cap, size_t len, const char *key);

/* Errors collected by a validation, one line each (prefixed with
 * "prefix: " when prefix is set); lines stop before err->msg would cut one
 * and are counted in omitted. Zero it, then set warn and prefix. */
struct spec_report {
	char msg[DBR_ERR_MSG_MAX - 48];
	size_t len;
	int errors;
	int omitted;
	dbr_spec_warn_fn warn;      /* may be NULL: warnings dropped */
	void *warn_arg;
	const char *prefix;         /* e.g. "tasks[0].new_cluster", or NULL */
};

void spec_error(struct spec_report *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void spec_warn(struct spec_report *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Every clusters/create rule (see dbr_cluster_spec_validate) on root, a
 * JSON object, reported into v. */
void spec_validate_object(struct spec_report *v, const cJSON *root);

/* 0 when v holds no error, else DBR_E_INVAL with every line in err. */
int spec_report_finish(const struct spec_report *v, struct dbr_err *err);

/* Strict JSON text to a cJSON object, as dbr_cluster_spec_parse does it
 * (size cap max, syntax check with origin:LINE:COLUMN, duplicate fields,
 * numbers that would not be sent as written); noun names the document in
 * messages ("spec", "run"). *out is owned by the caller (cJSON_Delete).
 * Returns 0, DBR_E_INVAL, DBR_E_TOO_LARGE, DBR_E_NOMEM. */
int spec_parse_object(const char *json, size_t len, const char *origin, const char *noun,
		      size_t max, cJSON **out, struct dbr_err *err);

/* Compact JSON text of root; *out is malloc'ed (free()), len may be NULL.
 * Returns 0 or DBR_E_NOMEM. */
int spec_print_object(const cJSON *root, char **out, size_t *len);

/* Check an idempotency token given by the caller or found in a body:
 * 1..64 printable ASCII characters, no spaces (what names it in messages).
 * Returns 0 or DBR_E_INVAL. */
int spec_idempotency_check(const char *token, const char *what, struct dbr_err *err);

/* A random idempotency token: 32 lowercase hex characters from the
 * OpenSSL RNG into out[33]. Returns 0 or DBR_E_INTERNAL. */
int spec_idempotency_generate(char out[33], struct dbr_err *err);

/* Longest user-provided name quoted in a message. */
#define SPEC_NAME_SHOWN 64

#endif
