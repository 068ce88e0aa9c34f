/* JSON layout from the text (src/cli/json_layout.c): the layout cJSON_Print
 * gives, with every number and string exactly as it came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cli.h"

static char *layout(const char *json)
{
	size_t n = 99;
	char *out = cli_json_layout(json, strlen(json), &n);

	assert_non_null(out);
	assert_int_equal(strlen(out), n);
	return out;
}

/* Where cJSON keeps every value (small integers, plain strings), the text
 * is laid out exactly as cJSON_Print lays out the parsed document. */
static void test_same_layout_as_cjson(void **state)
{
	static const char *const docs[] = {
		"{}", "[]", "1", "\"s\"", "true", "null",
		"{\"a\":1}", "[1,2,3]", " { \"a\" : [ ] , \"b\" : { } } ",
		"{\"cluster_id\":\"0123-456789-abc\",\"state\":\"RUNNING\",\"num_workers\":0,"
		"\"spark_conf\":{\"spark.master\":\"local[*, 4]\",\"x\":\"a,b:{c}\"},"
		"\"tags\":[{\"k\":\"v\"},{},[]],\"autoscale\":null,\"ok\":false}",
		"[[[1,[2]],{\"a\":{\"b\":{\"c\":[{\"d\":1}]}}}],\"\"]",
		"{\n\t\"pretty\":\t[1, 2],\n\t\"x\":\t{\n\t}\n}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cJSON *doc = cJSON_Parse(docs[i]);
		char *want, *got;

		assert_non_null(doc);
		want = cJSON_Print(doc);
		got = layout(docs[i]);
		assert_string_equal(got, want);
		free(got);
		cJSON_free(want);
		cJSON_Delete(doc);
	}
}

/* What cJSON would change stays as the server sent it. */
static void test_numbers_and_strings_as_they_came(void **state)
{
	char *got;

	(void)state;
	got = layout("{\"spark_context_id\":6214741857663111557,\"f\":1.50,\"e\":-2E+3,"
		     "\"max\":9223372036854775807}");
	assert_string_equal(got, "{\n\t\"spark_context_id\":\t6214741857663111557,\n"
			    "\t\"f\":\t1.50,\n\t\"e\":\t-2E+3,\n\t\"max\":\t9223372036854775807\n}");
	free(got);
	got = layout("[\"caf\\u00e9 \\/ \\\"q\\\" \\\\\", \"{[,:]}\"]");
	assert_string_equal(got, "[\"caf\\u00e9 \\/ \\\"q\\\" \\\\\", \"{[,:]}\"]");
	free(got);
	/* blanks inside strings are kept, outside them dropped */
	got = layout("{ \"a b\" :\r\n \" c\\td \" }");
	assert_string_equal(got, "{\n\t\"a b\":\t\" c\\td \"\n}");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_layout_as_cjson),
		cmocka_unit_test(test_numbers_and_strings_as_they_came),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
