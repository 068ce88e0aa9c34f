/* dbroker-layer: core */
/* Levelled logging, always through the masker.
 *
 * The library never prints: it logs to a struct dbr_log whose outputs the
 * CLI chooses (stderr, a --log-file). Every byte reaches an output only after
 * passing through the log's masker, then the sanitizer (dbroker/sanitize.h,
 * text mode: a server's escape sequences, CR and bidi overrides are shown
 * escaped, never obeyed).
 */
#ifndef DBROKER_LOG_H
#define DBROKER_LOG_H

#include <stdarg.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_log;
struct dbr_mask;

enum dbr_log_level {
	DBR_LOG_ERROR = 0,
	DBR_LOG_WARN = 1,
	DBR_LOG_INFO = 2,
	DBR_LOG_DEBUG = 3,
	DBR_LOG_TRACE = 4,
};

/* New log writing nowhere yet, at level WARN. mask is borrowed and must
 * outlive the log. Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
DBR_API int dbr_log_new(struct dbr_mask *mask, struct dbr_log **out);

/* Flush and release (closes files the log opened). NULL is a no-op. */
DBR_API void dbr_log_free(struct dbr_log *log);

DBR_API void dbr_log_set_level(struct dbr_log *log, enum dbr_log_level level);
DBR_API enum dbr_log_level dbr_log_get_level(const struct dbr_log *log);

/* 1 if a message at level would be written. */
DBR_API int dbr_log_enabled(const struct dbr_log *log, enum dbr_log_level level);

/* Parse "error", "warn", "info", "debug", "trace" (case-insensitive).
 * Returns 0 or DBR_E_INVAL. */
DBR_API int dbr_log_parse_level(const char *name, enum dbr_log_level *out);
DBR_API const char *dbr_log_level_name(enum dbr_log_level level);

/* Send messages to fd (not closed by the log; e.g. STDERR_FILENO). Lines are
 * written as "dbroker: <level>: <message>\n" (level omitted for plain
 * messages). Returns 0, DBR_E_NOMEM. */
DBR_API int dbr_log_add_fd(struct dbr_log *log, int fd);

/* Call fn(arg) before each message is written (NULL: no longer): a caller
 * keeping a live line on the terminal clears it, so that the message does
 * not land on it. One hook per log; fn must not log. */
DBR_API void dbr_log_set_line_hook(struct dbr_log *log, void (*fn)(void *arg), void *arg);

/* Also write to path: created with mode 0600 (O_NOFOLLOW, O_APPEND); an
 * existing file is refused when it is not a regular file owned by the user
 * or has any group/other permission bit. Lines carry an ISO-8601 timestamp.
 * Returns 0, DBR_E_UNSAFE_PERM, DBR_E_IO, DBR_E_NOMEM. */
DBR_API int dbr_log_open_file(struct dbr_log *log, const char *path,
			      struct dbr_err *err);

/* Log one message (printf format; a trailing newline is added). The whole
 * formatted text is masked before it is written and never truncated before
 * masking. */
DBR_API void dbr_log_msg(struct dbr_log *log, enum dbr_log_level level,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
DBR_API void dbr_log_vmsg(struct dbr_log *log, enum dbr_log_level level,
			  const char *fmt, va_list ap);

/* Write raw text (several lines, e.g. a reassembled HTTP trace) at level.
 * The whole text is masked at once, then each line is prefixed like a
 * message. Returns 0 or an error from an output. */
DBR_API int dbr_log_write(struct dbr_log *log, enum dbr_log_level level,
			  const char *text, size_t len);

/* Convenience wrappers. */
#define dbr_log_error(l, ...) dbr_log_msg((l), DBR_LOG_ERROR, __VA_ARGS__)
#define dbr_log_warn(l, ...) dbr_log_msg((l), DBR_LOG_WARN, __VA_ARGS__)
#define dbr_log_info(l, ...) dbr_log_msg((l), DBR_LOG_INFO, __VA_ARGS__)
#define dbr_log_debug(l, ...) dbr_log_msg((l), DBR_LOG_DEBUG, __VA_ARGS__)
#define dbr_log_trace(l, ...) dbr_log_msg((l), DBR_LOG_TRACE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
