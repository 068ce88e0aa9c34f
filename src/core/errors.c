#include "dbroker/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/text.h"

#include "banned.h"

static const struct {
	int code;
	const char *name;
	const char *text;
} codes[] = {
	{ DBR_OK, "DBR_OK", "success" },
	{ DBR_E_NOMEM, "DBR_E_NOMEM", "out of memory" },
	{ DBR_E_INVAL, "DBR_E_INVAL", "invalid argument or input" },
	{ DBR_E_IO, "DBR_E_IO", "input/output error" },
	{ DBR_E_UNSAFE_PERM, "DBR_E_UNSAFE_PERM", "unsafe file owner or permissions" },
	{ DBR_E_NOT_HERE, "DBR_E_NOT_HERE", "no credential in this source" },
	{ DBR_E_CONFIG, "DBR_E_CONFIG", "malformed configuration" },
	{ DBR_E_NO_PROFILE, "DBR_E_NO_PROFILE", "profile not found" },
	{ DBR_E_PLUGIN, "DBR_E_PLUGIN", "plugin could not be loaded" },
	{ DBR_E_PLUGIN_ABI, "DBR_E_PLUGIN_ABI", "plugin ABI is incompatible" },
	{ DBR_E_SHORT_SECRET, "DBR_E_SHORT_SECRET", "secret too short to mask safely" },
	{ DBR_E_TOO_LARGE, "DBR_E_TOO_LARGE", "size limit exceeded" },
	{ DBR_E_NO_CREDENTIAL, "DBR_E_NO_CREDENTIAL", "no credential found" },
	{ DBR_E_PROVIDER, "DBR_E_PROVIDER", "credential provider failed" },
	{ DBR_E_SECMEM, "DBR_E_SECMEM", "no locked memory left for secrets and --strict is set: "
	  "raise the locked-memory limit (ulimit -l) or drop --strict" },
	{ DBR_E_AUTH, "DBR_E_AUTH", "credential rejected" },
	{ DBR_E_API, "DBR_E_API", "server returned an error" },
	{ DBR_E_TIMEOUT, "DBR_E_TIMEOUT", "timed out" },
	{ DBR_E_NETWORK, "DBR_E_NETWORK", "network error" },
	{ DBR_E_TLS, "DBR_E_TLS", "TLS error" },
	{ DBR_E_SECRET_FLAG, "DBR_E_SECRET_FLAG", "secret passed on the command line" },
	{ DBR_E_USAGE, "DBR_E_USAGE", "usage error" },
	{ DBR_E_INTERNAL, "DBR_E_INTERNAL", "internal error" },
	{ DBR_E_INTERRUPTED, "DBR_E_INTERRUPTED", "interrupted" },
	{ DBR_E_CLUSTER_FAILED, "DBR_E_CLUSTER_FAILED", "cluster failed to start" },
	{ DBR_E_RUN_FAILED, "DBR_E_RUN_FAILED", "job run did not succeed" },
	{ DBR_E_MAYBE_APPLIED, "DBR_E_MAYBE_APPLIED", "the request may have taken effect" },
	{ DBR_E_UNREACHABLE, "DBR_E_UNREACHABLE", "host unreachable" },
	{ DBR_E_NO_SUCH_HOST, "DBR_E_NO_SUCH_HOST", "no such host" },
	{ DBR_E_REDIRECT, "DBR_E_REDIRECT", "redirect refused" },
	{ DBR_E_AGENT, "DBR_E_AGENT", "the agent failed" },
};

const char *dbr_strerror(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].text;
	return "unknown error";
}

const char *dbr_strerror_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "DBR_E_UNKNOWN";
}

/* Cut at a UTF-8 character boundary so a truncated message stays valid. */
static void trim_utf8_tail(char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) {
		unsigned char lead = (unsigned char)s[i - 1];
		size_t want = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
		if (len - (i - 1) < want)
			s[i - 1] = '\0';
	}
}

/* A message too long for err->msg: formatted whole, then cut where no
 * token-like run is split (the message is not masked yet: a token cut in
 * half would slip past the masker), with "..." after it. */
static void set_cut(struct dbr_err *err, size_t n, const char *fmt, va_list ap)
{
	char *full = malloc(n + 1);
	size_t keep;

	if (!full || vsnprintf(full, n + 1, fmt, ap) < 0) {
		free(full);
		trim_utf8_tail(err->msg, sizeof(err->msg) - 1);
		keep = dbr_text_cut_len(err->msg, strlen(err->msg), sizeof(err->msg) - 4);
		memcpy(err->msg + keep, "...", 4);
		return;
	}
	keep = dbr_text_cut_len(full, n, sizeof(err->msg) - 4);
	memcpy(err->msg, full, keep);
	memcpy(err->msg + keep, "...", 4);
	explicit_bzero(full, n);
	free(full);
}

int dbr_err_set(struct dbr_err *err, int code, const char *fmt, ...)
{
	va_list ap, again;
	int n;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		err->msg[0] = '\0';
	else if ((size_t)n >= sizeof(err->msg))
		set_cut(err, (size_t)n, fmt, again);
	va_end(again);
	return code;
}

void dbr_err_clear(struct dbr_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
