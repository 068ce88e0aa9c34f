/* dbroker-layer: net */
/* Databricks error answers, in every format the workspace uses. */
#ifndef DBROKER_API_ERROR_H
#define DBROKER_API_ERROR_H

#include <stddef.h>

#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A Databricks error, parsed from any of its formats: {"error_code",
 * "message", "details"}, an integer error_code, {"error": "..."} (API 1.2),
 * {"error": {...}}, SCIM {"detail", "status"} (code "SCIM_<status>"), plain
 * "CODE: message", HTML pages (their <title>, else "HTML error page"), empty
 * bodies (the status's reason phrase). Every field is NUL-terminated, one
 * line of valid UTF-8 without control characters, cut with "..." when
 * longer than its buffer; code holds only [A-Za-z0-9_.-]. The message is the
 * server's text: pass it through the masker before showing it. */
struct dbr_api_error {
	long status;            /* HTTP status; 0 when there was no answer */
	char code[64];          /* e.g. "INVALID_PARAMETER_VALUE"; "" if none */
	char message[1024];     /* server's message (masked when printed) */
	char request_id[128];   /* "" if none */
};

/* Parse an error answer into out (always filled, see struct
 * dbr_api_error; never fails). A pure function of its arguments: reads
 * exactly len bytes of body (no NUL needed; NULL body means empty),
 * content_type and request_id (the header's; may be NULL) as NUL-terminated
 * strings. Safe on arbitrary bytes. NULL out is a no-op. */
DBR_API void dbr_api_error_parse(long status, const char *content_type,
				 const char *body, size_t len,
				 const char *request_id, struct dbr_api_error *out);

/* Server text made fit for one line of a terminal: src[0..n) (no NUL
 * needed; NULL is "") into dst[cap] with control characters and whitespace
 * runs as one space, invalid UTF-8 and bidirectional overrides as '?', both
 * ends trimmed, cut at a character boundary with "..." when too long.
 * Still the server's text: mask it before it is shown. cap 0 is a no-op. */
DBR_API void dbr_api_text_clean(char *dst, size_t cap, const char *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
