/* Levelled logging; every byte goes through the masker first. */
#include "dbroker/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbroker/bytes.h"

#include "buf.h"
#include "dbroker/os.h"
#include "dbroker/mask.h"
#include "dbroker/sanitize.h"
#include "banned.h"

#define LOG_MAX_OUTPUTS 4
/* A formatted message larger than this is refused whole, never truncated
 * before masking (a cut could split a secret and defeat the masker). */
#define LOG_MAX_MESSAGE (8u * 1024 * 1024)

struct log_output {
	int fd;
	int owned;       /* close on free */
	int timestamps;  /* files get ISO-8601 timestamps */
	int failed;      /* a write failed: the other outputs were told once */
	char name[256];  /* "log file 'PATH'", for that warning */
};

struct dbr_log {
	struct dbr_mask *mask;
	enum dbr_log_level level;
	struct log_output out[LOG_MAX_OUTPUTS];
	size_t n_out;
	void (*before_line)(void *arg); /* dbr_log_set_line_hook */
	void *before_arg;
};

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

int dbr_log_new(struct dbr_mask *mask, struct dbr_log **out)
{
	struct dbr_log *log;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!mask)
		return DBR_E_INVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return DBR_E_NOMEM;
	log->mask = mask;
	log->level = DBR_LOG_WARN;
	*out = log;
	return 0;
}

void dbr_log_free(struct dbr_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->n_out; i++)
		if (log->out[i].owned)
			close(log->out[i].fd);
	free(log);
}

void dbr_log_set_level(struct dbr_log *log, enum dbr_log_level level)
{
	if (log && level >= DBR_LOG_ERROR && level <= DBR_LOG_TRACE)
		log->level = level;
}

enum dbr_log_level dbr_log_get_level(const struct dbr_log *log)
{
	return log ? log->level : DBR_LOG_ERROR;
}

int dbr_log_enabled(const struct dbr_log *log, enum dbr_log_level level)
{
	return log && log->n_out > 0 && level <= log->level;
}

int dbr_log_parse_level(const char *name, enum dbr_log_level *out)
{
	if (!name || !out)
		return DBR_E_INVAL;
	for (int i = 0; i <= DBR_LOG_TRACE; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum dbr_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = DBR_LOG_WARN;
		return 0;
	}
	return DBR_E_INVAL;
}

const char *dbr_log_level_name(enum dbr_log_level level)
{
	if (level < DBR_LOG_ERROR || level > DBR_LOG_TRACE)
		return "?";
	return level_names[level];
}

static int add_output(struct dbr_log *log, int fd, int owned, int timestamps)
{
	if (log->n_out == LOG_MAX_OUTPUTS)
		return DBR_E_TOO_LARGE;
	log->out[log->n_out].fd = fd;
	log->out[log->n_out].owned = owned;
	log->out[log->n_out].timestamps = timestamps;
	log->n_out++;
	return 0;
}

int dbr_log_add_fd(struct dbr_log *log, int fd)
{
	if (!log || fd < 0)
		return DBR_E_INVAL;
	return add_output(log, fd, 0, 0);
}

int dbr_log_open_file(struct dbr_log *log, const char *path, struct dbr_err *err)
{
	struct stat st;
	int fd, rc;

	if (!log || !path || !*path)
		return dbr_err_set(err, DBR_E_INVAL, "no log file given");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			return dbr_err_set(err, DBR_E_UNSAFE_PERM,
					   "log file '%s' is a symbolic link: give the real path", path);
		return dbr_err_set(err, DBR_E_IO, "cannot open log file '%s': %s", path,
				   strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot stat log file '%s': %s", path,
				 strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		if (!S_ISREG(st.st_mode))
			return dbr_err_set(err, DBR_E_UNSAFE_PERM,
					   "log file '%s' is not a regular file", path);
		if (st.st_uid != geteuid())
			return dbr_err_set(err, DBR_E_UNSAFE_PERM,
					   "log file '%s' belongs to another user (uid %u): "
					   "choose a file of your own", path, (unsigned)st.st_uid);
		return dbr_err_set(err, DBR_E_UNSAFE_PERM,
				   "log file '%s' has mode %04o, open to group/others: "
				   "run 'chmod 600 %s' or choose a new file",
				   path, (unsigned)(st.st_mode & 07777), path);
	}
	rc = add_output(log, fd, 1, 1);
	if (rc) {
		close(fd);
		return dbr_err_set(err, rc, "too many log outputs");
	}
	snprintf(log->out[log->n_out - 1].name, sizeof(log->out[0].name), "the log file '%s'",
		 path);
	return 0;
}

static const char *terminal_prefix(enum dbr_log_level level)
{
	switch (level) {
	case DBR_LOG_ERROR: return "dbroker: error: ";
	case DBR_LOG_WARN: return "dbroker: warning: ";
	case DBR_LOG_INFO: return "dbroker: ";
	case DBR_LOG_DEBUG: return "dbroker: debug: ";
	default: return "dbroker: trace: ";
	}
}

static void timestamp(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, n - len, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Output o stopped taking lines (a full disk, a file size limit): say so
 * once on the others, so lines are not dropped without a word. */
static void output_failed(struct dbr_log *log, size_t o, int errnum)
{
	char msg[512];
	int n;

	if (log->out[o].failed)
		return;
	log->out[o].failed = 1;
	n = snprintf(msg, sizeof(msg), "%scannot write to %s (%s): its lines are lost from "
		     "here on; free space or choose another file with --log-file\n",
		     terminal_prefix(DBR_LOG_WARN), log->out[o].name[0] ? log->out[o].name :
		     "a log output", strerror(errnum));
	if (n <= 0 || (size_t)n >= sizeof(msg))
		n = (int)strlen(msg);
	for (size_t k = 0; k < log->n_out; k++)
		if (k != o && !log->out[k].failed)
			(void)dbr_write_all(log->out[k].fd, msg, (size_t)n);
}

void dbr_log_set_line_hook(struct dbr_log *log, void (*fn)(void *arg), void *arg)
{
	if (!log)
		return;
	log->before_line = fn;
	log->before_arg = arg;
}

/* Write already-masked text to every output, one prefix per line, one
 * write() per line so concurrent writers do not interleave mid-line. */
static int emit(struct dbr_log *log, enum dbr_log_level level, const char *text,
		size_t len)
{
	struct dbr_buf line = DBR_BUF_INIT(LOG_MAX_MESSAGE + 128);
	char ts[40];
	int rc = 0;

	timestamp(ts, sizeof(ts));
	if (log->before_line)
		log->before_line(log->before_arg);
	for (size_t o = 0; o < log->n_out; o++) {
		const char *p = text, *end = text + len;

		do {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			dbr_buf_reset(&line);
			if (log->out[o].timestamps)
				dbr_buf_addf(&line, "%s %-5s ", ts, level_names[level]);
			else
				dbr_buf_addstr(&line, terminal_prefix(level));
			if (dbr_buf_add(&line, p, n) || dbr_buf_addch(&line, '\n')) {
				rc = DBR_E_NOMEM;
				break;
			}
			if (dbr_write_all(log->out[o].fd, line.data, line.len)) {
				output_failed(log, o, errno);
				rc = DBR_E_IO;
			}
			p = nl ? nl + 1 : end;
		} while (p < end);
	}
	dbr_buf_release(&line);
	return rc;
}

int dbr_log_write(struct dbr_log *log, enum dbr_log_level level,
		  const char *text, size_t len)
{
	char *masked = NULL;
	size_t mlen = 0;
	int rc;

	if (!dbr_log_enabled(log, level) || !text)
		return 0;
	/* a trailing newline does not make an empty extra line */
	if (len && text[len - 1] == '\n')
		len--;
	/* masked, then escaped: no escape sequence, stray CR or bidi override
	 * of a server's reaches the terminal or forges a line of the log file */
	rc = dbr_sanitize_masked(log->mask, text, len, DBR_SANITIZE_TEXT, 0, &masked, &mlen);
	if (rc)
		return rc;
	rc = emit(log, level, masked, mlen);
	dbr_wipe(masked, mlen);
	free(masked);
	return rc;
}

void dbr_log_vmsg(struct dbr_log *log, enum dbr_log_level level,
		  const char *fmt, va_list ap)
{
	static const char dropped[] = "(a log message was too large to mask and was dropped)";
	/* the unmasked text may hold a secret: wipe it on release */
	struct dbr_buf raw = DBR_BUF_INIT_WIPE(LOG_MAX_MESSAGE);

	if (!dbr_log_enabled(log, level) || !fmt)
		return;
	if (dbr_buf_vaddf(&raw, fmt, ap) == 0)
		dbr_log_write(log, level, raw.data, raw.len);
	else
		emit(log, DBR_LOG_ERROR, dropped, sizeof(dropped) - 1);
	dbr_buf_release(&raw);
}

void dbr_log_msg(struct dbr_log *log, enum dbr_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dbr_log_vmsg(log, level, fmt, ap);
	va_end(ap);
}
