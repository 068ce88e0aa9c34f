#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "dbroker/cluster_spec.h"
#include "dbroker/errors.h"
#include "dbroker/runtime.h"

/* The seed notes' payload with its trailing comma removed. */
static const char seed_payload[] =
	"{\n"
	"    \"num_workers\": 0,\n"
	"    \"cluster_name\": \"cluster_name\",\n"
	"    \"spark_version\": \"10.4.x-scala2.12\",\n"
	"    \"spark_conf\": {\n"
	"        \"spark.master\": \"local[*, 4]\",\n"
	"        \"spark.databricks.cluster.profile\": \"singleNode\"\n"
	"    },\n"
	"    \"azure_attributes\": {\n"
	"        \"first_on_demand\": 1,\n"
	"        \"availability\": \"ON_DEMAND_AZURE\",\n"
	"        \"spot_bid_max_price\": -1\n"
	"    },\n"
	"    \"node_type_id\": \"Standard_DS3_v2\",\n"
	"    \"custom_tags\": {\n"
	"        \"ResourceClass\": \"SingleNode\"\n"
	"    },\n"
	"    \"spark_env_vars\": {\n"
	"        \"PYSPARK_PYTHON\": \"/databricks/python3/bin/python3\"\n"
	"    },\n"
	"    \"autotermination_minutes\": 10,\n"
	"    \"enable_elastic_disk\": true,\n"
	"    \"runtime_engine\": \"STANDARD\"\n"
	"}\n";

/* The same payload exactly as the notes have it: a ',' after "STANDARD". */
static const char seed_with_trailing_comma[] =
	"{\n"
	"    \"num_workers\": 0,\n"
	"    \"cluster_name\": \"cluster_name\",\n"
	"    \"spark_version\": \"10.4.x-scala2.12\",\n"
	"    \"spark_conf\": {\n"
	"        \"spark.master\": \"local[*, 4]\",\n"
	"        \"spark.databricks.cluster.profile\": \"singleNode\"\n"
	"    },\n"
	"    \"azure_attributes\": {\n"
	"        \"first_on_demand\": 1,\n"
	"        \"availability\": \"ON_DEMAND_AZURE\",\n"
	"        \"spot_bid_max_price\": -1\n"
	"    },\n"
	"    \"node_type_id\": \"Standard_DS3_v2\",\n"
	"    \"custom_tags\": {\n"
	"        \"ResourceClass\": \"SingleNode\"\n"
	"    },\n"
	"    \"spark_env_vars\": {\n"
	"        \"PYSPARK_PYTHON\": \"/databricks/python3/bin/python3\"\n"
	"    },\n"
	"    \"autotermination_minutes\": 10,\n"
	"    \"enable_elastic_disk\": true,\n"
	"    \"runtime_engine\": \"STANDARD\",\n"
	"}\n";

/* A valid multi-node spec the rule tests start from. */
#define BASE "\"spark_version\": \"15.4.x-scala2.12\", \"node_type_id\": \"Standard_DS3_v2\""
#define SINGLE_OK                                                                        \
	"\"spark_conf\": {\"spark.databricks.cluster.profile\": \"singleNode\", "        \
	"\"spark.master\": \"local[*]\"}, \"custom_tags\": {\"ResourceClass\": \"SingleNode\"}"

struct warnings {
	int count;
	char text[4096];
};

static void collect(void *arg, const char *message)
{
	struct warnings *w = arg;
	size_t n = strlen(w->text);

	w->count++;
	snprintf(w->text + n, sizeof(w->text) - n, "%s\n", message);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle)) {
		print_error("expected \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
		fail();
	}
}

static int lines(const char *s)
{
	int n = 1;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static struct dbr_cluster_spec *parse_ok(const char *json)
{
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	int rc = dbr_cluster_spec_parse(json, strlen(json), "spec.json", &s, &err);

	if (rc) {
		print_error("parse failed: %s\n", err.msg);
		fail();
	}
	assert_non_null(s);
	return s;
}

/* Parse must fail with code and a message starting with prefix. */
static void parse_fails(const char *json, size_t len, int code, const char *prefix)
{
	struct dbr_cluster_spec *s = (struct dbr_cluster_spec *)1;
	struct dbr_err err = DBR_ERR_INIT;

	assert_int_equal(dbr_cluster_spec_parse(json, len, "spec.json", &s, &err), code);
	assert_null(s);
	assert_int_equal(err.code, code);
	if (strncmp(err.msg, prefix, strlen(prefix))) {
		print_error("expected prefix \"%s\" in:\n%s\n", prefix, err.msg);
		fail();
	}
}

static void parse_fails_str(const char *json, const char *prefix)
{
	parse_fails(json, strlen(json), DBR_E_INVAL, prefix);
}

/* Validate a JSON spec: returns the rc, the message in err, warnings in w. */
static int check(const char *json, struct dbr_err *err, struct warnings *w)
{
	struct dbr_cluster_spec *s = parse_ok(json);
	int rc;

	dbr_err_clear(err);
	if (w)
		memset(w, 0, sizeof(*w));
	rc = dbr_cluster_spec_validate(s, w ? collect : NULL, w, err);
	dbr_cluster_spec_free(s);
	return rc;
}

static void valid(const char *json)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	if (check(json, &err, &w)) {
		print_error("expected valid: %s\n%s\n", json, err.msg);
		fail();
	}
	if (w.count) {
		print_error("unexpected warnings for %s:\n%s", json, w.text);
		fail();
	}
}

static void invalid(const char *json, const char *needle)
{
	struct dbr_err err = DBR_ERR_INIT;

	assert_int_equal(check(json, &err, NULL), DBR_E_INVAL);
	assert_int_equal(err.code, DBR_E_INVAL);
	assert_contains(err.msg, needle);
}

static char *to_json(const struct dbr_cluster_spec *s)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(dbr_cluster_spec_to_json(s, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	return out;
}

static int setup(void **state)
{
	(void)state;
	return dbr_runtime_init(0, NULL, NULL);
}

/* ---- default template ---- */

static void test_default_is_seed(void **state)
{
	struct dbr_cluster_spec *s = NULL;
	cJSON *got, *want;
	char *text;

	(void)state;
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	text = to_json(s);
	got = cJSON_Parse(text);
	want = cJSON_Parse(seed_payload);
	assert_non_null(got);
	assert_non_null(want);
	assert_true(cJSON_Compare(got, want, 1));
	/* field by field, in the seed's order */
	assert_string_equal(text,
			    "{\"num_workers\":0,\"cluster_name\":\"cluster_name\","
			    "\"spark_version\":\"10.4.x-scala2.12\","
			    "\"spark_conf\":{\"spark.master\":\"local[*, 4]\","
			    "\"spark.databricks.cluster.profile\":\"singleNode\"},"
			    "\"azure_attributes\":{\"first_on_demand\":1,"
			    "\"availability\":\"ON_DEMAND_AZURE\",\"spot_bid_max_price\":-1},"
			    "\"node_type_id\":\"Standard_DS3_v2\","
			    "\"custom_tags\":{\"ResourceClass\":\"SingleNode\"},"
			    "\"spark_env_vars\":{\"PYSPARK_PYTHON\":\"/databricks/python3/bin/python3\"},"
			    "\"autotermination_minutes\":10,\"enable_elastic_disk\":true,"
			    "\"runtime_engine\":\"STANDARD\"}");
	assert_string_equal(dbr_cluster_spec_name(s), "cluster_name");
	assert_null(dbr_cluster_spec_idempotency(s));
	cJSON_Delete(got);
	cJSON_Delete(want);
	free(text);
	dbr_cluster_spec_free(s);
}

static void test_default_validates_clean(void **state)
{
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	assert_int_equal(dbr_cluster_spec_validate(s, collect, &w, &err), 0);
	assert_int_equal(w.count, 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, NULL), 0);
	dbr_cluster_spec_free(s);
	/* and the seed payload itself parses and validates the same way */
	valid(seed_payload);
}

/* ---- parse errors ---- */

static void test_parse_missing_comma(void **state)
{
	const char *json = "{\n"
			   "  \"num_workers\": 0,\n"
			   "  \"spark_version\": \"10.4.x-scala2.12\"\n"
			   "  \"node_type_id\": \"x\"\n"
			   "}\n";
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char want[256];

	(void)state;
	/* the comma belongs right after the value on line 3 */
	snprintf(want, sizeof(want),
		 "spec.json:3:38: missing ',' after the value of 'spark_version'; add one\n"
		 "      \"spark_version\": \"10.4.x-scala2.12\"\n"
		 "    %37s^", "");
	assert_int_equal(dbr_cluster_spec_parse(json, strlen(json), "spec.json", &s, &err),
			 DBR_E_INVAL);
	assert_string_equal(err.msg, want);
	/* on one line */
	parse_fails_str("{\"a\": 1 \"b\": 2}",
			"spec.json:1:8: missing ',' after the value of 'a'");
	parse_fails_str("{\"a\": [1 2]}", "spec.json:1:9: missing ',' between array elements");
	parse_fails_str("{\"a\": 1 : 2}", "spec.json:1:9: expected ',' or '}' after the value of 'a'");
}

static void test_parse_unterminated_string(void **state)
{
	(void)state;
	/* reported where the string opens */
	parse_fails_str("{\n  \"cluster_name\": \"abc\n}",
			"spec.json:2:19: unterminated string; add the closing '\"' (a string cannot span lines)");
	parse_fails_str("{\"a\": \"abc", "spec.json:1:7: unterminated string");
	parse_fails_str("{\"a\": \"abc\\", "spec.json:1:7: unterminated string");
	parse_fails_str("{\"abc", "spec.json:1:2: unterminated string");
}

static void test_parse_trailing_comma(void **state)
{
	(void)state;
	/* the seed notes' own payload: the ',' after "STANDARD" */
	parse_fails_str(seed_with_trailing_comma,
			"spec.json:23:33: trailing ',' before '}'; remove it\n"
			"        \"runtime_engine\": \"STANDARD\",\n"
			"    ");
	parse_fails_str("{\"a\": [1, 2,]}", "spec.json:1:12: trailing ',' before ']'; remove it");
	parse_fails_str("{\"a\": 1,\n\n}", "spec.json:1:8: trailing ','");
}

static void test_parse_garbage_after_object(void **state)
{
	(void)state;
	parse_fails_str("{\"a\": 1} x",
			"spec.json:1:10: unexpected text after the end of the JSON object; remove it");
	parse_fails_str("{\"a\": 1}\n}\n", "spec.json:2:1: unexpected text after the end");
	parse_fails_str("{}{}", "spec.json:1:3: unexpected text");
}

static void test_parse_empty_nul_and_not_object(void **state)
{
	static const char nul[] = "{\"a\"\0: 1}";

	(void)state;
	parse_fails("", 0, DBR_E_INVAL, "spec.json: the spec is empty");
	parse_fails(NULL, 0, DBR_E_INVAL, "spec.json: the spec is empty");
	parse_fails_str(" \n\t\r\n", "spec.json: the spec is empty");
	parse_fails("\xEF\xBB\xBF", 3, DBR_E_INVAL, "spec.json:1:4: the spec is empty");
	parse_fails(nul, sizeof(nul) - 1, DBR_E_INVAL, "spec.json:1:5: NUL byte in the input");
	parse_fails("{\"a\": 1}\0", 9, DBR_E_INVAL, "spec.json:1:9: NUL byte");
	parse_fails_str("[1]", "spec.json:1:1: the spec must be a JSON object ({...}), not an array");
	parse_fails_str("\n [ ]", "spec.json:2:2: the spec must be a JSON object ({...}), not an array");
	parse_fails_str("\"spec\"", "spec.json:1:1: the spec must be a JSON object ({...}), not a string");
	parse_fails_str("42", "spec.json:1:1: the spec must be a JSON object ({...}), not a number");
	parse_fails_str("null", "spec.json:1:1: the spec must be a JSON object ({...}), not null");
	parse_fails_str("<html>", "spec.json:1:1: expected '{'");
}

static void test_parse_duplicate_key(void **state)
{
	(void)state;
	parse_fails_str("{\"num_workers\": 1, \"spark_version\": \"x\", \"num_workers\": 2}",
			"spec.json: duplicate field 'num_workers'; keep only one");
	parse_fails_str("{\"spark_conf\": {\"spark.master\": \"a\", \"spark.master\": \"b\"}}",
			"spec.json: duplicate field 'spark_conf[\"spark.master\"]'");
	parse_fails_str("{\"init_scripts\": [{\"a\": 1}, {\"b\": 1, \"b\": 2}]}",
			"spec.json: duplicate field 'init_scripts[1].b'");
	/* the same name written with an escape is the same field */
	parse_fails_str("{\"a\": 1, \"\\u0061\": 2}", "spec.json: duplicate field 'a'");
	/* case differs: two fields */
	valid("{" BASE ", \"num_workers\": 1, \"custom_tags\": {\"a\": \"1\", \"A\": \"2\"}}");
}

static void test_parse_other_syntax_errors(void **state)
{
	char deep[200];
	size_t o = 0;

	(void)state;
	parse_fails_str("{a: 1}", "spec.json:1:2: expected a field name in double quotes");
	parse_fails_str("{'a': 1}", "spec.json:1:2: single quotes are not JSON");
	parse_fails_str("{\"a\" 1}", "spec.json:1:6: expected ':' after the field name 'a'");
	parse_fails_str("{\"a\": 01}", "spec.json:1:7: invalid number; leading zeros");
	parse_fails_str("{\"a\": 1.}", "spec.json:1:7: invalid number; digits must follow '.'");
	parse_fails_str("{\"a\": -}", "spec.json:1:7: invalid number");
	parse_fails_str("{\"a\": 1e}", "spec.json:1:7: invalid number");
	parse_fails_str("{\"a\": 1.2.3}", "spec.json:1:7: invalid number");
	parse_fails_str("{\"a\": +1}", "spec.json:1:7: unexpected '+'");
	parse_fails_str("{\"a\": tru}", "spec.json:1:7: invalid value 'tru'; put text in double quotes");
	parse_fails_str("{\"a\": True}", "spec.json:1:7: invalid value 'True'");
	parse_fails_str("{\"a\": }", "spec.json:1:7: expected a value before '}'");
	parse_fails_str("{\"a\": \"x\\qy\"}", "spec.json:1:9: invalid escape '\\q'");
	parse_fails_str("{\"a\": \"\\u12\"}", "spec.json:1:8: invalid escape; '\\u' takes exactly 4");
	parse_fails_str("{\"a\": \"\\u0000\"}", "spec.json:1:8: '\\u0000' (a NUL character)");
	parse_fails_str("{\"a\": \"\\ud800\"}", "spec.json:1:8: unpaired UTF-16 surrogate");
	parse_fails_str("{\"a\": \"\\udc00\"}", "spec.json:1:8: unpaired UTF-16 surrogate");
	parse_fails_str("{\"a\": \"x\ty\"}", "spec.json:1:9: control character 0x09 in a string");
	parse_fails_str("{\"a\": \"\xc3\x28\"}", "spec.json:1:8: invalid UTF-8 in a string");
	parse_fails_str("{\"a\": \"\xed\xa0\x80\"}", "spec.json:1:8: invalid UTF-8");
	parse_fails_str("{\"a\": {\"b\": 1}",
			"spec.json:1:15: unexpected end of input; add the '}' that closes the object opened at 1:1");
	parse_fails_str("{\"a\": [1, 2", "spec.json:1:12: unexpected end of input; add the ']' that closes the array opened at 1:7");
	parse_fails_str("{\"a\":", "spec.json:1:6: unexpected end of input; expected a value");
	parse_fails_str("{\"a\": 1234567890123456789012345678901234567890123}",
			"spec.json:1:7: number longer than 40");
	/* columns are bytes, lines count '\n' (CRLF files too) */
	parse_fails_str("{\r\n\"\xc3\xa9t\xc3\xa9\": x}", "spec.json:2:10: invalid value 'x'");
	o += (size_t)snprintf(deep, sizeof(deep), "{\"a\": ");
	for (int i = 0; i < 70; i++)
		deep[o++] = '[';
	deep[o] = '\0';
	parse_fails_str(deep, "spec.json:1:70: objects and arrays nest deeper than 64 levels");
}

static void test_parse_excerpt_is_short(void **state)
{
	char json[512], *line, *caret;
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	int n;

	(void)state;
	n = snprintf(json, sizeof(json), "{\"cluster_name\": \"%0100d\", \"x\": tru, \"y\": \"%0100d\"}",
		     0, 0);
	assert_true(n > 0);
	assert_int_equal(dbr_cluster_spec_parse(json, strlen(json), NULL, &s, &err), DBR_E_INVAL);
	assert_contains(err.msg, "spec:1:127: invalid value 'tru'");
	line = strchr(err.msg, '\n');
	assert_non_null(line);
	caret = strchr(line + 1, '\n');
	assert_non_null(caret);
	/* 4 spaces, "...", at most 40 bytes, "..." */
	assert_true(caret - (line + 1) <= 4 + 3 + 40 + 3);
	assert_memory_equal(line + 1, "    ...", 7);
	assert_memory_equal(caret - 3, "...", 3);
	/* the caret points at "tru" */
	assert_memory_equal(line + 1 + (strlen(caret + 1) - 1), "tru", 3);
}

static void test_parse_accepts_valid_input(void **state)
{
	static const char padded[] = "{\"num_workers\": 1}GARBAGE";
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char *text;

	(void)state;
	/* the length bounds the input: no NUL terminator needed */
	assert_int_equal(dbr_cluster_spec_parse(padded, 18, "x", &s, &err), 0);
	text = to_json(s);
	assert_string_equal(text, "{\"num_workers\":1}");
	free(text);
	dbr_cluster_spec_free(s);
	/* a byte order mark, escapes, surrogate pairs, UTF-8, numbers */
	s = parse_ok("\xEF\xBB\xBF{\"cluster_name\": \"caf\xc3\xa9 \\ud83d\\ude00 \\\"q\\\" \\n\","
		     " \"x\": [-0, 0.5, 1e3, -2E-2, true, false, null, {}, []]}");
	assert_string_equal(dbr_cluster_spec_name(s), "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \n");
	dbr_cluster_spec_free(s);
	dbr_cluster_spec_free(NULL);
}

static void test_parse_too_large(void **state)
{
	size_t n = DBR_CLUSTER_SPEC_MAX + 1;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	parse_fails(big, n, DBR_E_TOO_LARGE, "spec.json: the spec is 1048577 bytes");
	free(big);
}

/* ---- validation rules ---- */

static void test_rule_spark_version(void **state)
{
	(void)state;
	invalid("{\"node_type_id\": \"n\", \"num_workers\": 1}", "'spark_version' is missing; add it");
	invalid("{\"spark_version\": \"\", \"node_type_id\": \"n\", \"num_workers\": 1}",
		"'spark_version' is empty");
	valid("{" BASE ", \"num_workers\": 1}");
}

static void test_rule_node_type(void **state)
{
	(void)state;
	invalid("{\"spark_version\": \"v\", \"num_workers\": 1}",
		"'node_type_id' is missing; add it (e.g. \"Standard_DS3_v2\"), or give 'instance_pool_id' or 'policy_id'");
	invalid("{\"spark_version\": \"v\", \"node_type_id\": \"\", \"num_workers\": 1}",
		"'node_type_id' is empty");
	invalid("{\"spark_version\": \"v\", \"instance_pool_id\": \"\", \"num_workers\": 1}",
		"'node_type_id' is missing");
	valid("{\"spark_version\": \"v\", \"instance_pool_id\": \"pool-1\", \"num_workers\": 1}");
	valid("{\"spark_version\": \"v\", \"policy_id\": \"ABC\", \"num_workers\": 1}");
}

static void test_rule_workers(void **state)
{
	(void)state;
	invalid("{" BASE ", \"num_workers\": 2, \"autoscale\": {\"min_workers\": 1, \"max_workers\": 3}}",
		"'num_workers' and 'autoscale' are both set; keep only one");
	invalid("{" BASE "}", "neither 'num_workers' nor 'autoscale' is set; add one");
	invalid("{" BASE ", \"num_workers\": -1}", "'num_workers' is -1; use 0 (single node) or more");
	valid("{" BASE ", \"autoscale\": {\"min_workers\": 1, \"max_workers\": 3}}");
	valid("{" BASE ", \"autoscale\": {\"min_workers\": 0, \"max_workers\": 1}}");
	invalid("{" BASE ", \"autoscale\": {\"min_workers\": 3, \"max_workers\": 3}}",
		"'autoscale.max_workers' (3) must be greater than 'autoscale.min_workers' (3)");
	invalid("{" BASE ", \"autoscale\": {\"min_workers\": 4, \"max_workers\": 2}}",
		"'autoscale.max_workers' (2) must be greater than 'autoscale.min_workers' (4); raise max_workers or lower min_workers");
	invalid("{" BASE ", \"autoscale\": {\"min_workers\": -1, \"max_workers\": 2}}",
		"'autoscale.min_workers' is -1; use 0 or more");
	invalid("{" BASE ", \"autoscale\": {\"min_workers\": 1}}",
		"'autoscale.max_workers' is missing");
	invalid("{" BASE ", \"autoscale\": {\"max_workers\": 1}}",
		"'autoscale.min_workers' is missing");
	invalid("{" BASE ", \"autoscale\": {\"min_workers\": \"1\", \"max_workers\": 2.5}}",
		"'autoscale.min_workers' must be a whole number, not a string; write it without quotes\n"
		"'autoscale.max_workers' must be a whole number, not 2.5");
}

static void test_rule_types(void **state)
{
	(void)state;
	/* strings */
	invalid("{\"spark_version\": 15, \"node_type_id\": \"n\", \"num_workers\": 1}",
		"'spark_version' must be a string, not a number");
	invalid("{" BASE ", \"num_workers\": 1, \"cluster_name\": [\"a\"]}",
		"'cluster_name' must be a string, not an array");
	invalid("{" BASE ", \"num_workers\": 1, \"policy_id\": null}",
		"'policy_id' is null; remove the field or give a string");
	/* whole numbers */
	invalid("{" BASE ", \"num_workers\": \"2\"}",
		"'num_workers' must be a whole number, not a string; write it without quotes");
	invalid("{" BASE ", \"num_workers\": 2.5}", "'num_workers' must be a whole number, not 2.5");
	invalid("{" BASE ", \"num_workers\": 1e10}",
		"'num_workers' is 10000000000, out of range; use a value from -2147483648 to 2147483647");
	invalid("{" BASE ", \"num_workers\": 1e300}", "'num_workers' must be a whole number, not 1e+300");
	invalid("{" BASE ", \"num_workers\": -1e300}", "'num_workers' must be a whole number, not -1e+300");
	/* 1e999 (infinity) is refused by the parser already: see
	 * test_unfaithful_numbers_refused */
	invalid("{" BASE ", \"num_workers\": true}", "'num_workers' must be a whole number, not a boolean");
	invalid("{" BASE ", \"num_workers\": 1, \"remote_disk_throughput\": {}}",
		"'remote_disk_throughput' must be a whole number, not an object");
	valid("{" BASE ", \"num_workers\": 2.0}");
	/* booleans */
	invalid("{" BASE ", \"num_workers\": 1, \"enable_elastic_disk\": \"true\"}",
		"'enable_elastic_disk' must be true or false, not a string; write it without quotes");
	invalid("{" BASE ", \"num_workers\": 1, \"enable_local_disk_encryption\": 1}",
		"'enable_local_disk_encryption' must be true or false, not a number");
	/* maps */
	invalid("{" BASE ", \"num_workers\": 1, \"spark_conf\": [\"a\"]}",
		"'spark_conf' must be an object of strings, not an array");
	invalid("{" BASE ", \"num_workers\": 1, \"spark_conf\": {\"spark.executor.cores\": 4}}",
		"'spark_conf[\"spark.executor.cores\"]' must be a string, not a number; put the value in double quotes");
	invalid("{" BASE ", \"num_workers\": 1, \"spark_env_vars\": {\"DEBUG\": true}}",
		"'spark_env_vars.DEBUG' must be a string, not a boolean");
	invalid("{" BASE ", \"num_workers\": 1, \"custom_tags\": {\"team\": {\"a\": \"b\"}}}",
		"'custom_tags.team' must be a string, not an object");
	/* arrays */
	invalid("{" BASE ", \"num_workers\": 1, \"ssh_public_keys\": \"ssh-ed25519 AAAA\"}",
		"'ssh_public_keys' must be an array of strings, not a string");
	invalid("{" BASE ", \"num_workers\": 1, \"ssh_public_keys\": [\"k\", 2]}",
		"'ssh_public_keys[1]' must be a string, not a number");
	invalid("{" BASE ", \"num_workers\": 1, \"init_scripts\": [\"dbfs:/x.sh\"]}",
		"'init_scripts[0]' must be an object such as {\"workspace\": {\"destination\": \"...\"}}, not a string");
	valid("{" BASE ", \"num_workers\": 1, \"init_scripts\": [{\"workspace\": {\"destination\": \"/x.sh\"}}]}");
	/* objects */
	invalid("{" BASE ", \"autoscale\": \"1-3\"}", "'autoscale' must be an object, not a string");
	invalid("{" BASE ", \"num_workers\": 1, \"docker_image\": \"img\"}",
		"'docker_image' must be an object, not a string");
	invalid("{" BASE ", \"num_workers\": 1, \"azure_attributes\": {\"first_on_demand\": \"1\", \"spot_bid_max_price\": \"x\"}}",
		"'azure_attributes.first_on_demand' must be a whole number, not a string; write it without quotes\n"
		"'azure_attributes.spot_bid_max_price' must be a number, not a string");
}

static void test_rule_enums(void **state)
{
	(void)state;
	invalid("{" BASE ", \"num_workers\": 1, \"runtime_engine\": \"TURBO\"}",
		"'runtime_engine' is 'TURBO'; use one of NULL, STANDARD, PHOTON");
	invalid("{" BASE ", \"num_workers\": 1, \"runtime_engine\": \"photon\"}",
		"'runtime_engine' is 'photon'");
	invalid("{" BASE ", \"num_workers\": 1, \"runtime_engine\": 1}",
		"'runtime_engine' must be a string, not a number");
	invalid("{" BASE ", \"num_workers\": 1, \"data_security_mode\": \"SHARED\"}",
		"'data_security_mode' is 'SHARED'; use one of NONE, SINGLE_USER, USER_ISOLATION, LEGACY_TABLE_ACL, LEGACY_PASSTHROUGH, LEGACY_SINGLE_USER, LEGACY_SINGLE_USER_STANDARD, DATA_SECURITY_MODE_STANDARD, DATA_SECURITY_MODE_DEDICATED, DATA_SECURITY_MODE_AUTO");
	invalid("{" BASE ", \"num_workers\": 1, \"kind\": \"CLASSIC\"}",
		"'kind' is 'CLASSIC'; use one of CLASSIC_PREVIEW");
	invalid("{" BASE ", \"num_workers\": 1, \"azure_attributes\": {\"availability\": \"SPOT\"}}",
		"'azure_attributes.availability' is 'SPOT'; use one of SPOT_AZURE, ON_DEMAND_AZURE, SPOT_WITH_FALLBACK_AZURE");
	valid("{" BASE ", \"num_workers\": 1, \"runtime_engine\": \"PHOTON\", "
	      "\"data_security_mode\": \"DATA_SECURITY_MODE_AUTO\", \"kind\": \"CLASSIC_PREVIEW\", "
	      "\"azure_attributes\": {\"availability\": \"SPOT_WITH_FALLBACK_AZURE\"}}");
	valid("{" BASE ", \"num_workers\": 1, \"runtime_engine\": \"NULL\"}");
}

static void test_rule_autotermination(void **state)
{
	(void)state;
	invalid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": 5}",
		"'autotermination_minutes' is 5; use 0 (never) or 10 to 10000");
	invalid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": 10001}",
		"'autotermination_minutes' is 10001");
	invalid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": -1}",
		"'autotermination_minutes' is -1");
	valid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": 0}");
	valid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": 10}");
	valid("{" BASE ", \"num_workers\": 1, \"autotermination_minutes\": 10000}");
}

static char *spec_with_entries(const char *field, int n, int array)
{
	size_t cap = 64 + (size_t)n * 32 + sizeof(BASE);
	char *json = malloc(cap);
	size_t o;

	assert_non_null(json);
	o = (size_t)snprintf(json, cap, "{" BASE ", \"num_workers\": 1, \"%s\": %c", field,
			     array ? '[' : '{');
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(json + o, cap - o, array ? "%s\"key%d\"" : "%s\"t%d\": \"v\"",
				      i ? ", " : "", i);
	snprintf(json + o, cap - o, "%c}", array ? ']' : '}');
	return json;
}

static void test_rule_counts(void **state)
{
	char *json;

	(void)state;
	json = spec_with_entries("custom_tags", 46, 0);
	invalid(json, "'custom_tags' has 46 entries; Databricks allows at most 45, remove 1");
	free(json);
	json = spec_with_entries("custom_tags", 45, 0);
	valid(json);
	free(json);
	json = spec_with_entries("ssh_public_keys", 11, 1);
	invalid(json, "'ssh_public_keys' has 11 entries; Databricks allows at most 10, remove 1");
	free(json);
	json = spec_with_entries("ssh_public_keys", 10, 1);
	valid(json);
	free(json);
	/* spark_conf has no limit */
	json = spec_with_entries("spark_conf", 100, 0);
	valid(json);
	free(json);
}

static void test_rule_idempotency_token(void **state)
{
	char json[256];

	(void)state;
	snprintf(json, sizeof(json), "{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"%065d\"}", 0);
	invalid(json, "'idempotency_token' is 65 characters long; use 1 to 64");
	snprintf(json, sizeof(json), "{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"%064d\"}", 0);
	valid(json);
	invalid("{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"\"}",
		"'idempotency_token' is 0 characters long");
	invalid("{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"a\\nb\"}",
		"'idempotency_token' has a space, control or non-ASCII character");
	invalid("{" BASE ", \"num_workers\": 1, \"idempotency_token\": 42}",
		"'idempotency_token' must be a string, not a number");
}

static void test_rule_single_node(void **state)
{
	(void)state;
	valid("{" BASE ", \"num_workers\": 0, " SINGLE_OK "}");
	/* each missing or wrong piece is named with what to add */
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.master\": \"local[*]\"}, "
		"\"custom_tags\": {\"ResourceClass\": \"SingleNode\"}}",
		"single node (num_workers 0): 'spark_conf[\"spark.databricks.cluster.profile\"]' is missing; add \"spark.databricks.cluster.profile\": \"singleNode\" to spark_conf");
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.databricks.cluster.profile\": \"serverless\", "
		"\"spark.master\": \"local[*]\"}, \"custom_tags\": {\"ResourceClass\": \"SingleNode\"}}",
		"'spark_conf[\"spark.databricks.cluster.profile\"]' is 'serverless'; set it to \"singleNode\"");
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.databricks.cluster.profile\": \"singleNode\"}, "
		"\"custom_tags\": {\"ResourceClass\": \"SingleNode\"}}",
		"single node (num_workers 0): 'spark_conf[\"spark.master\"]' is missing; add \"spark.master\": \"local[*]\" to spark_conf");
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.databricks.cluster.profile\": \"singleNode\", "
		"\"spark.master\": \"yarn\"}, \"custom_tags\": {\"ResourceClass\": \"SingleNode\"}}",
		"'spark_conf[\"spark.master\"]' is 'yarn'; set it to \"local[*]\" (any local[...])");
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.databricks.cluster.profile\": \"singleNode\", "
		"\"spark.master\": \"local[*]\"}}",
		"single node (num_workers 0): 'custom_tags.ResourceClass' is missing; add \"ResourceClass\": \"SingleNode\" to custom_tags");
	invalid("{" BASE ", \"num_workers\": 0, \"spark_conf\": {\"spark.databricks.cluster.profile\": \"singleNode\", "
		"\"spark.master\": \"local[*]\"}, \"custom_tags\": {\"ResourceClass\": \"Default\"}}",
		"'custom_tags.ResourceClass' is 'Default'; set it to \"SingleNode\"");
	/* nothing at all: three errors, one per missing piece */
	{
		struct dbr_err err = DBR_ERR_INIT;

		assert_int_equal(check("{" BASE ", \"num_workers\": 0}", &err, NULL), DBR_E_INVAL);
		assert_int_equal(lines(err.msg), 3);
		assert_contains(err.msg, "spark.databricks.cluster.profile");
		assert_contains(err.msg, "spark.master");
		assert_contains(err.msg, "ResourceClass");
	}
	/* kind CLASSIC_PREVIEW + is_single_node: the server fills these in */
	valid("{" BASE ", \"kind\": \"CLASSIC_PREVIEW\", \"is_single_node\": true}");
	invalid("{" BASE ", \"is_single_node\": true, \"num_workers\": 0}",
		"'is_single_node' needs \"kind\": \"CLASSIC_PREVIEW\"");
}

static void test_multi_node_with_single_node_settings_warns(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	assert_int_equal(check("{" BASE ", \"num_workers\": 3, " SINGLE_OK "}", &err, &w), 0);
	assert_int_equal(w.count, 2);
	assert_contains(w.text, "'num_workers' is above 0 but 'spark_conf[\"spark.databricks.cluster.profile\"]' is \"singleNode\"; remove it");
	assert_contains(w.text, "'spark_conf[\"spark.master\"]' is 'local[*]'; remove it");
}

static void test_errors_reported_together(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *json;

	(void)state;
	assert_int_equal(check("{\"num_workers\": -1, \"autotermination_minutes\": 5, "
			       "\"runtime_engine\": \"X\", \"enable_elastic_disk\": 1}",
			       &err, NULL),
			 DBR_E_INVAL);
	assert_string_equal(err.msg,
			    "'runtime_engine' is 'X'; use one of NULL, STANDARD, PHOTON\n"
			    "'enable_elastic_disk' must be true or false, not a number\n"
			    "'spark_version' is missing; add it, e.g. \"spark_version\": \"10.4.x-scala2.12\"\n"
			    "'node_type_id' is missing; add it (e.g. \"Standard_DS3_v2\"), or give 'instance_pool_id' or 'policy_id'\n"
			    "'num_workers' is -1; use 0 (single node) or more\n"
			    "'autotermination_minutes' is 5; use 0 (never) or 10 to 10000");
	/* more errors than a message holds: whole lines, then a count */
	json = malloc(8192);
	assert_non_null(json);
	{
		size_t o = (size_t)snprintf(json, 8192, "{" BASE ", \"num_workers\": 1, \"spark_conf\": {");

		for (int i = 0; i < 100; i++)
			o += (size_t)snprintf(json + o, 8192 - o, "%s\"k%d\": %d", i ? ", " : "", i, i);
		snprintf(json + o, 8192 - o, "}}");
	}
	assert_int_equal(check(json, &err, NULL), DBR_E_INVAL);
	assert_true(strlen(err.msg) < DBR_ERR_MSG_MAX - 1);
	assert_contains(err.msg, "'spark_conf.k0' must be a string, not a number");
	assert_contains(err.msg, " more errors)");
	assert_non_null(strstr(err.msg, "\n(and "));
	free(json);
}

static void test_unknown_fields_warn(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	assert_int_equal(check("{" BASE ", \"num_workers\": 1, \"foo\": 1, \"bar\": {\"x\": 1}, "
			       "\"evil\\nname\": true}",
			       &err, &w),
			 0);
	assert_int_equal(w.count, 3);
	assert_string_equal(w.text, "unknown field: foo\nunknown field: bar\nunknown field: evil?name\n");
	/* no callback: still not fatal */
	assert_int_equal(check("{" BASE ", \"num_workers\": 1, \"foo\": 1}", &err, NULL), 0);
	/* unknown fields do not hide errors */
	assert_int_equal(check("{\"foo\": 1, \"node_type_id\": \"n\", \"num_workers\": 1}", &err, &w),
			 DBR_E_INVAL);
	assert_int_equal(w.count, 1);
	assert_contains(err.msg, "'spark_version' is missing");
}

/* ---- set ---- */

static void set_refused(struct dbr_cluster_spec *s, const char *field, const char *value,
			const char *needle)
{
	struct dbr_err err = DBR_ERR_INIT;

	assert_int_equal(dbr_cluster_spec_set(s, field, value, &err), DBR_E_INVAL);
	assert_int_equal(err.code, DBR_E_INVAL);
	assert_contains(err.msg, needle);
}

static void test_set_conversions(void **state)
{
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char *text, *before;

	(void)state;
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	before = to_json(s);
	set_refused(s, "num_workers", "3x", "invalid value '3x' for 'num_workers'; give a whole number");
	set_refused(s, "num_workers", "", "invalid value '' for 'num_workers'");
	set_refused(s, "num_workers", " 3", "invalid value ' 3'");
	set_refused(s, "num_workers", "3 ", "invalid value '3 '");
	set_refused(s, "num_workers", "+3", "invalid value '+3'");
	set_refused(s, "num_workers", "-", "invalid value '-'");
	set_refused(s, "num_workers", "0x10", "invalid value '0x10'");
	set_refused(s, "num_workers", "99999999999", "invalid value '99999999999'");
	set_refused(s, "num_workers", "2147483648", "invalid value '2147483648'");
	set_refused(s, "enable_elastic_disk", "yes", "invalid value 'yes' for 'enable_elastic_disk'; give true or false");
	set_refused(s, "enable_elastic_disk", "TRUE", "give true or false");
	set_refused(s, "colour", "blue", "'colour' is not a cluster field dbroker knows; check the spelling, or pass it with --json");
	set_refused(s, "spark_conf", "a=b", "'spark_conf' is a map and cannot be set from a flag; pass it with --json");
	set_refused(s, "ssh_public_keys", "k", "'ssh_public_keys' is a list and cannot be set from a flag; pass it with --json");
	set_refused(s, "autoscale", "1", "'autoscale' is an object and cannot be set from a flag; pass it with --json");
	set_refused(s, "cluster_name", "bad\xff", "not valid UTF-8");
	set_refused(s, "cluster_name", NULL, "(a bug)");
	/* refusals leave the spec alone */
	text = to_json(s);
	assert_string_equal(text, before);
	free(text);

	assert_int_equal(dbr_cluster_spec_set(s, "enable_elastic_disk", "false", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "autotermination_minutes", "2147483647", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "autotermination_minutes", "-2147483648", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "autotermination_minutes", "30", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "cluster_name", "etl \xc3\xa9t\xc3\xa9", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "spark_version", "15.4.x-scala2.12", &err), 0);
	assert_string_equal(dbr_cluster_spec_name(s), "etl \xc3\xa9t\xc3\xa9");
	text = to_json(s);
	/* replaced in place: the field order stays */
	assert_contains(text, "\"cluster_name\":\"etl \xc3\xa9t\xc3\xa9\",\"spark_version\":\"15.4.x-scala2.12\"");
	assert_contains(text, "\"autotermination_minutes\":30,\"enable_elastic_disk\":false");
	free(text);
	/* new fields are appended */
	assert_int_equal(dbr_cluster_spec_set(s, "policy_id", "P1", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "enable_local_disk_encryption", "true", &err), 0);
	text = to_json(s);
	assert_contains(text, "\"runtime_engine\":\"STANDARD\",\"policy_id\":\"P1\",\"enable_local_disk_encryption\":true}");
	free(text);
	/* enums are checked by validate, not set */
	assert_int_equal(dbr_cluster_spec_set(s, "runtime_engine", "TURBO", &err), 0);
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, &err), DBR_E_INVAL);
	assert_contains(err.msg, "'runtime_engine' is 'TURBO'");
	/* a negative count is a value set() converts and validate() refuses */
	assert_int_equal(dbr_cluster_spec_set(s, "runtime_engine", "PHOTON", &err), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "num_workers", "-1", &err), 0);
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, &err), DBR_E_INVAL);
	assert_string_equal(err.msg, "'num_workers' is -1; use 0 (single node) or more");
	free(before);
	dbr_cluster_spec_free(s);
}

static void test_set_workers_and_autoscale(void **state)
{
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;
	char *text;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	/* going multi-node drops the template's single-node settings */
	assert_int_equal(dbr_cluster_spec_set(s, "num_workers", "3", &err), 0);
	text = to_json(s);
	assert_contains(text, "\"num_workers\":3,");
	assert_contains(text, "\"spark_conf\":{},");
	assert_contains(text, "\"custom_tags\":{},");
	free(text);
	assert_int_equal(dbr_cluster_spec_validate(s, collect, &w, &err), 0);
	assert_int_equal(w.count, 0);

	assert_int_equal(dbr_cluster_spec_set_autoscale(s, 2, 8, &err), 0);
	text = to_json(s);
	assert_null(strstr(text, "num_workers"));
	assert_contains(text, "\"autoscale\":{\"min_workers\":2,\"max_workers\":8}");
	free(text);
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, &err), 0);
	/* set_autoscale again replaces */
	assert_int_equal(dbr_cluster_spec_set_autoscale(s, 0, 1, &err), 0);
	text = to_json(s);
	assert_contains(text, "\"autoscale\":{\"min_workers\":0,\"max_workers\":1}");
	free(text);

	assert_int_equal(dbr_cluster_spec_set(s, "num_workers", "1", &err), 0);
	text = to_json(s);
	assert_null(strstr(text, "autoscale"));
	assert_contains(text, "\"num_workers\":1");
	free(text);

	/* back to 0: the single-node settings are not invented, validate names them */
	assert_int_equal(dbr_cluster_spec_set(s, "num_workers", "0", &err), 0);
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, &err), DBR_E_INVAL);
	assert_int_equal(lines(err.msg), 3);

	assert_int_equal(dbr_cluster_spec_set_autoscale(s, 3, 3, &err), DBR_E_INVAL);
	assert_contains(err.msg, "autoscale maximum (3) must be greater than the minimum (3)");
	assert_int_equal(dbr_cluster_spec_set_autoscale(s, -1, 3, &err), DBR_E_INVAL);
	assert_contains(err.msg, "autoscale minimum is -1; give 0 or more workers");
	text = to_json(s);
	assert_null(strstr(text, "autoscale"));
	free(text);
	dbr_cluster_spec_free(s);

	/* num_workers 0 on the default keeps the single-node settings */
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "num_workers", "0", &err), 0);
	valid(seed_payload);
	assert_int_equal(dbr_cluster_spec_validate(s, NULL, NULL, &err), 0);
	dbr_cluster_spec_free(s);
}

/* ---- idempotency ---- */

static int is_hex32(const char *t)
{
	if (!t || strlen(t) != 32)
		return 0;
	for (; *t; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f')))
			return 0;
	return 1;
}

static void test_idempotency_generated(void **state)
{
	struct dbr_cluster_spec *a = NULL, *b = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char first[64];

	(void)state;
	assert_int_equal(dbr_cluster_spec_new_default(&a), 0);
	assert_int_equal(dbr_cluster_spec_new_default(&b), 0);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(a, NULL, &err), 0);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(b, NULL, &err), 0);
	assert_true(is_hex32(dbr_cluster_spec_idempotency(a)));
	assert_true(is_hex32(dbr_cluster_spec_idempotency(b)));
	assert_string_not_equal(dbr_cluster_spec_idempotency(a), dbr_cluster_spec_idempotency(b));
	/* a second call keeps the token: retries must send the same one */
	snprintf(first, sizeof(first), "%s", dbr_cluster_spec_idempotency(a));
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(a, NULL, &err), 0);
	assert_string_equal(dbr_cluster_spec_idempotency(a), first);
	assert_int_equal(dbr_cluster_spec_validate(a, NULL, NULL, &err), 0);
	dbr_cluster_spec_free(a);
	dbr_cluster_spec_free(b);
}

static void test_idempotency_kept_and_explicit(void **state)
{
	struct dbr_cluster_spec *s;
	struct dbr_err err = DBR_ERR_INIT;
	char tok[80];

	(void)state;
	s = parse_ok("{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"from-file-1\"}");
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, NULL, &err), 0);
	assert_string_equal(dbr_cluster_spec_idempotency(s), "from-file-1");
	/* an explicit token wins over the file's */
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "retry-42", &err), 0);
	assert_string_equal(dbr_cluster_spec_idempotency(s), "retry-42");
	snprintf(tok, sizeof(tok), "%064d", 7);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, tok, &err), 0);
	assert_string_equal(dbr_cluster_spec_idempotency(s), tok);
	/* refusals leave the token alone */
	snprintf(tok, sizeof(tok), "%065d", 7);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, tok, &err), DBR_E_INVAL);
	assert_contains(err.msg, "the idempotency token is 65 characters long; Databricks accepts at most 64");
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "a\nb", &err), DBR_E_INVAL);
	assert_contains(err.msg, "control or non-ASCII character at position 2");
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "a\x7f", &err), DBR_E_INVAL);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "a b", &err), DBR_E_INVAL);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "\xc3\xa9", &err), DBR_E_INVAL);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, "", &err), DBR_E_INVAL);
	assert_contains(err.msg, "the idempotency token is empty");
	snprintf(tok, sizeof(tok), "%064d", 7);
	assert_string_equal(dbr_cluster_spec_idempotency(s), tok);
	dbr_cluster_spec_free(s);

	/* a bad token in the file is not silently replaced */
	s = parse_ok("{" BASE ", \"num_workers\": 1, \"idempotency_token\": \"has space\"}");
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, NULL, &err), DBR_E_INVAL);
	assert_contains(err.msg, "'idempotency_token' in the spec contains a space");
	dbr_cluster_spec_free(s);
	s = parse_ok("{" BASE ", \"num_workers\": 1, \"idempotency_token\": 5}");
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, NULL, &err), DBR_E_INVAL);
	assert_contains(err.msg, "must be a string; fix it, or remove it to get a generated one");
	assert_null(dbr_cluster_spec_idempotency(s));
	dbr_cluster_spec_free(s);
}

/* ---- output ---- */

static void test_to_json_round_trip(void **state)
{
	struct dbr_cluster_spec *s = NULL, *t;
	struct dbr_err err = DBR_ERR_INIT;
	char *a, *b;
	size_t len = 1;

	(void)state;
	assert_int_equal(dbr_cluster_spec_new_default(&s), 0);
	assert_int_equal(dbr_cluster_spec_set(s, "cluster_name", "q\"uote\\ \n\x01 \xe2\x82\xac", &err), 0);
	assert_int_equal(dbr_cluster_spec_ensure_idempotency(s, NULL, &err), 0);
	a = to_json(s);
	assert_int_equal(dbr_cluster_spec_parse(a, strlen(a), "round-trip", &t, &err), 0);
	b = to_json(t);
	assert_string_equal(a, b);
	assert_string_equal(dbr_cluster_spec_name(t), "q\"uote\\ \n\x01 \xe2\x82\xac");
	assert_string_equal(dbr_cluster_spec_idempotency(t), dbr_cluster_spec_idempotency(s));
	/* plain malloc: free() and realloc() work */
	b = realloc(b, 4096);
	assert_non_null(b);
	free(a);
	free(b);
	dbr_cluster_spec_free(t);
	assert_int_equal(dbr_cluster_spec_to_json(s, &a, NULL), 0);
	free(a);
	assert_int_equal(dbr_cluster_spec_to_json(NULL, &a, &len), DBR_E_INVAL);
	assert_null(a);
	assert_int_equal(len, 0);
	dbr_cluster_spec_free(s);
}

/* Fuzz findings F1/F2: what is validated must be what is sent. */
static void test_unfaithful_numbers_refused(void **state)
{
	static const char *const bad[] = {
		"{\"spark_version\":\"v\",\"node_type_id\":\"n\",\"num_workers\":1,"
		"\"azure_attributes\":{\"spot_bid_max_price\":-1e999}}",
		"{\"spark_version\":\"v\",\"node_type_id\":\"n\",\"num_workers\":4666666266666e96666}",
		"{\"spark_version\":\"v\",\"node_type_id\":\"n\",\"num_workers\":1,"
		"\"x\":[1,9333332533333332]}",
	};
	struct dbr_cluster_spec *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dbr_cluster_spec_parse(bad[i], strlen(bad[i]), "t", &s, &err),
				 DBR_E_INVAL);
		assert_null(s);
		assert_non_null(strstr(err.msg, "15 significant digits"));
	}
	assert_non_null(strstr(err.msg, "'x[]'"));
	/* ordinary numbers still pass: negatives, fractions, 15 digits */
	assert_int_equal(dbr_cluster_spec_parse("{\"a\":-1,\"b\":0.1,\"c\":123456789012345}",
						 36, "t", &s, &err), 0);
	dbr_cluster_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unfaithful_numbers_refused),
		cmocka_unit_test(test_default_is_seed),
		cmocka_unit_test(test_default_validates_clean),
		cmocka_unit_test(test_parse_missing_comma),
		cmocka_unit_test(test_parse_unterminated_string),
		cmocka_unit_test(test_parse_trailing_comma),
		cmocka_unit_test(test_parse_garbage_after_object),
		cmocka_unit_test(test_parse_empty_nul_and_not_object),
		cmocka_unit_test(test_parse_duplicate_key),
		cmocka_unit_test(test_parse_other_syntax_errors),
		cmocka_unit_test(test_parse_excerpt_is_short),
		cmocka_unit_test(test_parse_accepts_valid_input),
		cmocka_unit_test(test_parse_too_large),
		cmocka_unit_test(test_rule_spark_version),
		cmocka_unit_test(test_rule_node_type),
		cmocka_unit_test(test_rule_workers),
		cmocka_unit_test(test_rule_types),
		cmocka_unit_test(test_rule_enums),
		cmocka_unit_test(test_rule_autotermination),
		cmocka_unit_test(test_rule_counts),
		cmocka_unit_test(test_rule_idempotency_token),
		cmocka_unit_test(test_rule_single_node),
		cmocka_unit_test(test_multi_node_with_single_node_settings_warns),
		cmocka_unit_test(test_errors_reported_together),
		cmocka_unit_test(test_unknown_fields_warn),
		cmocka_unit_test(test_set_conversions),
		cmocka_unit_test(test_set_workers_and_autoscale),
		cmocka_unit_test(test_idempotency_generated),
		cmocka_unit_test(test_idempotency_kept_and_explicit),
		cmocka_unit_test(test_to_json_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
