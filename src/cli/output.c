/* All CLI output goes through here, through the masker. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include <cjson/cJSON.h>
#include "dbroker/bytes.h"

#include "cli.h"
#include "banned.h"

int cli_exit_code(int err)
{
	switch (err) {
	case DBR_OK: return EXIT_OK;
	case DBR_E_USAGE:
	case DBR_E_SECRET_FLAG: return EXIT_USAGE;
	case DBR_E_NO_CREDENTIAL:
	case DBR_E_NOT_HERE: return EXIT_NO_CREDENTIAL;
	case DBR_E_CONFIG:
	case DBR_E_NO_PROFILE:
	case DBR_E_UNSAFE_PERM:
	case DBR_E_PLUGIN:
	case DBR_E_PLUGIN_ABI:
	case DBR_E_SHORT_SECRET:
	case DBR_E_SECMEM:
	case DBR_E_PROVIDER: /* e.g. no such Vault secret or field */
	case DBR_E_INVAL: return EXIT_CONFIG;
	case DBR_E_AUTH: return EXIT_AUTH;
	case DBR_E_API:
	case DBR_E_TOO_LARGE: return EXIT_API;
	case DBR_E_TIMEOUT: return EXIT_TIMEOUT;
	case DBR_E_NETWORK:
	case DBR_E_UNREACHABLE:
	case DBR_E_NO_SUCH_HOST:
	case DBR_E_REDIRECT:
	case DBR_E_TLS: return EXIT_NETWORK;
	case DBR_E_MAYBE_APPLIED: return EXIT_MAYBE_APPLIED;
	case DBR_E_INTERRUPTED:
		return dbr_interrupt_signal() > 0 ? 128 + dbr_interrupt_signal()
						  : EXIT_INTERRUPTED;
	case DBR_E_CLUSTER_FAILED:
	case DBR_E_RUN_FAILED: return EXIT_CLUSTER_FAILED;
	default: return EXIT_FAILURE_GENERIC;
	}
}

/* How text is made safe after masking: escaped by the sanitizer in a mode,
 * or left byte-exact (raw bodies to a pipe or file). */
#define PRINT_RAW (-1)

/* Mask, sanitize, write, wipe: the one way text leaves the CLI. */
static int print_masked(struct cli *cli, int fd, const char *text, size_t len, int mode)
{
	char *masked = NULL;
	size_t mlen = 0;
	int rc, saved;

	rc = mode == PRINT_RAW ? dbr_mask_buffer(cli->mask, text, len, &masked, &mlen)
			       : dbr_sanitize_masked(cli->mask, text, len,
						     (enum dbr_sanitize_mode)mode, 0, &masked, &mlen);
	if (rc)
		return rc;
	rc = dbr_write_all(fd, masked, mlen);
	saved = errno; /* why the write failed, for the caller's message */
	dbr_wipe(masked, mlen);
	free(masked);
	errno = saved;
	return rc;
}

/* Every write to stdout: a failure is remembered (the command's result may
 * be lost, which main() reports). */
static int print_stdout(struct cli *cli, const char *text, size_t len, int mode)
{
	int rc;

	/* stdout was closed when we started: what goes to /dev/null is lost */
	if (dbr_process_std_reopened() & (1u << STDOUT_FILENO)) {
		errno = EBADF;
		rc = DBR_E_IO;
	} else {
		rc = print_masked(cli, STDOUT_FILENO, text, len, mode);
	}
	if (rc && !cli->stdout_errno)
		cli->stdout_errno = errno ? errno : EIO;
	return rc;
}

int cli_print(struct cli *cli, const char *text, size_t len)
{
	return print_stdout(cli, text, len, DBR_SANITIZE_TEXT);
}

int cli_print_body(struct cli *cli, const char *body, size_t len)
{
	int rc = print_stdout(cli, body, len, isatty(STDOUT_FILENO) ? DBR_SANITIZE_TEXT : PRINT_RAW);

	if (rc == 0 && isatty(STDOUT_FILENO) && (len == 0 || body[len - 1] != '\n'))
		rc = print_stdout(cli, "\n", 1, PRINT_RAW);
	return rc;
}

char *cli_field(struct cli *cli, const char *text, size_t max)
{
	char *safe = NULL;

	if (!text)
		text = "";
	if (dbr_sanitize_masked(cli->mask, text, strlen(text), DBR_SANITIZE_LINE, max, &safe, NULL))
		return NULL;
	return safe;
}

int cli_eprint(struct cli *cli, const char *text, size_t len)
{
	/* our own control sequences (the live progress line) stay; its fields
	 * come from cli_field() */
	return print_masked(cli, STDERR_FILENO, text, len, PRINT_RAW);
}

int cli_print_json_text(struct cli *cli, const char *json, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	char *laid;
	size_t n;
	int rc;

	/* re-indent when it parses; print as received when it does not. The
	 * layout is made from the text, not from cJSON's document: cJSON holds
	 * numbers as doubles, and a 64-bit id would come out rounded */
	if (!doc)
		return cli_print_body(cli, json, len);
	cJSON_Delete(doc);
	laid = cli_json_layout(json, len, &n);
	if (!laid)
		return DBR_E_NOMEM;
	rc = print_stdout(cli, laid, n, DBR_SANITIZE_JSON);
	if (rc == 0)
		rc = cli_print(cli, "\n", 1);
	dbr_wipe(laid, n);
	free(laid);
	return rc;
}

int cli_printf(struct cli *cli, const char *fmt, ...)
{
	char small[1024];
	char *p = small;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return DBR_E_INVAL;
	if ((size_t)n >= sizeof(small)) {
		p = malloc((size_t)n + 1);
		if (!p)
			return DBR_E_NOMEM;
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	rc = cli_print(cli, p, (size_t)n);
	dbr_wipe(p, (size_t)n);
	if (p != small)
		free(p);
	return rc;
}

int cli_fail(struct cli *cli, int code, const char *msg)
{
	if (!msg || !*msg)
		msg = dbr_strerror(code);
	dbr_log_error(cli->log, "%s", msg);
	if (cli->output == CLI_OUTPUT_JSON) {
		cJSON *o = cJSON_CreateObject();

		cli_json_add_error(o, code, msg);
		cli_print_json(cli, o);
		cJSON_Delete(o);
	}
	return cli_exit_code(code);
}

void cli_json_add_error(cJSON *parent, int code, const char *msg)
{
	cJSON *e = cJSON_AddObjectToObject(parent, "error");

	cJSON_AddStringToObject(e, "code", dbr_strerror_name(code));
	cJSON_AddNumberToObject(e, "exit_code", cli_exit_code(code));
	cJSON_AddStringToObject(e, "message", msg);
}

int cli_print_json(struct cli *cli, const cJSON *doc)
{
	char *s = cJSON_Print(doc);
	int rc;

	if (!s)
		return DBR_E_NOMEM;
	rc = print_stdout(cli, s, strlen(s), DBR_SANITIZE_JSON);
	if (rc == 0)
		rc = cli_print(cli, "\n", 1);
	cJSON_free(s);
	return rc;
}

int cli_failf(struct cli *cli, int code, const char *fmt, ...)
{
	struct dbr_err err = DBR_ERR_INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	return cli_fail(cli, code, err.msg);
}

int cli_fd_discards(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	       minor(st.st_rdev) == 3;
}

int cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_config(struct cli *cli, struct dbr_err *err)
{
	if (cli->cfg)
		return 0;
	return dbr_config_load(cli->config_file, cli->profile, cli->log, &cli->cfg, err);
}

void cli_format_utc_ms(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "%s", ms < 0 ? "never" : "?");
}
