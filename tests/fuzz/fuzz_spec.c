/* Fuzz target: cluster specs (dbr_cluster_spec_parse, _validate, _to_json).
 *
 * The whole input is the JSON text (no NUL terminator after it: it is
 * copied to an exactly-sized buffer so ASan sees any over-read).
 *
 * Properties (abort on violation), from include/dbroker/cluster_spec.h:
 *   S1  parse returns 0 with a spec, or an error code with no spec and a
 *       NUL-terminated message that starts with the origin ("fuzz:") for
 *       DBR_E_INVAL; DBR_E_TOO_LARGE only above DBR_CLUSTER_SPEC_MAX;
 *   S2  validate returns 0 or DBR_E_INVAL (message non-empty then); every
 *       warning is a NUL-terminated string;
 *   S3  to_json is NUL-terminated at its length, parses back (strict
 *       RFC 8259 parser, no duplicate fields), and the round trip is a fixed
 *       point: to_json(parse(to_json(s))) == to_json(s);
 *   S4  the re-parsed spec validates with the same result and message, and
 *       has the same cluster_name and idempotency token.
 * Findings F1/F2 (tests/fuzz/crashes/spec/): numbers beyond the double
 * range, or with more than 15 significant digits, changed in to_json; the
 * parser now refuses them, so S3/S4 hold for every accepted spec.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/cluster_spec.h"
#include "dbroker/errors.h"
#include "fuzz_common.h"

static void warn_cb(void *arg, const char *message)
{
	size_t *count = arg;

	if (!message)
		fuzz_fail("S2: NULL warning");
	(void)strlen(message); /* ASan: must be a readable C string */
	(*count)++;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dbr_cluster_spec *s = NULL, *s2 = NULL;
	struct dbr_err err = DBR_ERR_INIT, verr = DBR_ERR_INIT, verr2 = DBR_ERR_INIT;
	char *json = NULL, *json2 = NULL, *text = malloc(size ? size : 1);
	size_t len = 0, len2 = 0, warns = 0, warns2 = 0;
	int rc, vrc, vrc2;

	if (!text)
		abort();
	memcpy(text, data, size);
	rc = dbr_cluster_spec_parse(text, size, "fuzz", &s, &err);
	if (strnlen(err.msg, sizeof(err.msg)) == sizeof(err.msg))
		fuzz_fail("S1: parse error message not NUL-terminated");
	if (rc) {
		if (s)
			fuzz_fail("S1: parse failed (%d) but returned a spec", rc);
		if (rc == DBR_E_TOO_LARGE && size <= DBR_CLUSTER_SPEC_MAX)
			fuzz_fail("S1: DBR_E_TOO_LARGE for %zu bytes", size);
		if (rc == DBR_E_INVAL && strncmp(err.msg, "fuzz:", 5) != 0)
			fuzz_fail("S1: parse error does not start with the origin: \"%s\"",
				  err.msg);
		free(text);
		return 0;
	}
	if (!s)
		fuzz_fail("S1: parse returned 0 without a spec");

	vrc = dbr_cluster_spec_validate(s, warn_cb, &warns, &verr);
	if (vrc != 0 && vrc != DBR_E_INVAL)
		fuzz_fail("S2: validate returned %d", vrc);
	if (vrc && !verr.msg[0])
		fuzz_fail("S2: validate failed with an empty message");
	if (strnlen(verr.msg, sizeof(verr.msg)) == sizeof(verr.msg))
		fuzz_fail("S2: validate message not NUL-terminated");

	if (dbr_cluster_spec_to_json(s, &json, &len) != 0 || !json)
		fuzz_fail("S3: to_json failed");
	if (json[len] != '\0' || strlen(json) != len)
		fuzz_fail("S3: to_json length %zu but strlen %zu", len, strlen(json));
	dbr_err_clear(&err);
	rc = dbr_cluster_spec_parse(json, len, "roundtrip", &s2, &err);
	if (rc)
		fuzz_fail("S3: to_json output does not parse back (%d: %s)\njson: %s", rc,
			  err.msg, json);
	if (dbr_cluster_spec_to_json(s2, &json2, &len2) != 0 || !json2)
		fuzz_fail("S3: to_json of the re-parsed spec failed");
	if (len2 != len || memcmp(json, json2, len) != 0)
		fuzz_fail("S3: round trip is not a fixed point\nfirst:  %s\nsecond: %s", json,
			  json2);
	vrc2 = dbr_cluster_spec_validate(s2, warn_cb, &warns2, &verr2);
	if (vrc2 != vrc || strcmp(verr.msg, verr2.msg) != 0)
		fuzz_fail("S4: validation differs after the round trip: %d \"%s\" vs %d \"%s\"\n"
			  "json: %s", vrc, verr.msg, vrc2, verr2.msg, json);
	if (!same_str(dbr_cluster_spec_name(s), dbr_cluster_spec_name(s2)) ||
	    !same_str(dbr_cluster_spec_idempotency(s), dbr_cluster_spec_idempotency(s2)))
		fuzz_fail("S4: cluster_name or idempotency_token changed in the round trip");

	free(json);
	free(json2);
	dbr_cluster_spec_free(s);
	dbr_cluster_spec_free(s2);
	free(text);
	return 0;
}
