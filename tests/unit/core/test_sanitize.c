/* The one sanitizer (dbroker/sanitize.h) and the cut that never splits a
 * secret-like run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "dbroker/errors.h"
#include "dbroker/sanitize.h"
#include "dbroker/text.h"

static char *san(const char *in, enum dbr_sanitize_mode mode, size_t max)
{
	char *out = NULL;
	size_t n = 0;

	assert_int_equal(dbr_sanitize(in, strlen(in), mode, max, &out, &n), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), n);
	if (max)
		assert_true(n <= max);
	return out;
}

static void expect(const char *in, enum dbr_sanitize_mode mode, const char *want)
{
	char *out = san(in, mode, 0);

	assert_string_equal(out, want);
	assert_int_equal(dbr_sanitize_clean(in, strlen(in), mode), strcmp(in, want) == 0);
	free(out);
}

static void test_terminal_sequences(void **state)
{
	(void)state;
	/* CSI, OSC (window title), bell, backspace, DEL */
	expect("a\x1b[2Jb", DBR_SANITIZE_TEXT, "a\\x1b[2Jb");
	expect("\x1b]0;pwned\x07", DBR_SANITIZE_TEXT, "\\x1b]0;pwned\\x07");
	expect("x\by\x7f", DBR_SANITIZE_LINE, "x\\x08y\\x7f");
	/* C1 controls as UTF-8 (8-bit CSI U+009B, NEL U+0085) */
	expect("a\xc2\x9b" "31mb\xc2\x85", DBR_SANITIZE_TEXT, "a\\u009b31mb\\u0085");
	/* a lone 8-bit CSI byte is not UTF-8 */
	expect("a\x9b" "31m", DBR_SANITIZE_TEXT, "a\\x9b31m");
	expect("\xff\xfe", DBR_SANITIZE_LINE, "\\xff\\xfe");
	/* overlong and surrogate encodings are invalid too */
	expect("\xc0\xaf\xed\xa0\x80", DBR_SANITIZE_TEXT, "\\xc0\\xaf\\xed\\xa0\\x80");
}

static void test_bidi_and_separators(void **state)
{
	(void)state;
	expect("user\xe2\x80\xae" "gnp.exe", DBR_SANITIZE_LINE, "user\\u202egnp.exe");
	expect("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9", DBR_SANITIZE_TEXT,
	       "\\u202a\\u2066\\u2069");
	expect("a\xe2\x80\xa8" "b", DBR_SANITIZE_TEXT, "a\\u2028b");
	/* other non-ASCII text stays as it is */
	expect("caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80", DBR_SANITIZE_LINE,
	       "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80");
}

static void test_lines(void **state)
{
	(void)state;
	/* several lines: LF and TAB stay, CR never does */
	expect("one\n\ttwo\r\n", DBR_SANITIZE_TEXT, "one\n\ttwo\\r\n");
	/* one field: a forged second line is shown as what it is */
	expect("me\ntoken: x\r\t", DBR_SANITIZE_LINE, "me\\ntoken: x\\r\\t");
}

static void test_json_stays_json(void **state)
{
	const char *in = "{\"m\":\"a\xe2\x80\xae" "b\xc2\x9b" "c\x7f\xff\"}";
	char *out = san(in, DBR_SANITIZE_JSON, 0);
	cJSON *doc = cJSON_Parse(out), *m;

	(void)state;
	assert_string_equal(out, "{\"m\":\"a\\u202eb\\u009bc\\u007f\\ufffd\"}");
	assert_non_null(doc);
	m = cJSON_GetObjectItemCaseSensitive(doc, "m");
	assert_true(cJSON_IsString(m));
	assert_string_equal(m->valuestring, "a\xe2\x80\xae" "b\xc2\x9b" "c\x7f\xef\xbf\xbd");
	cJSON_Delete(doc);
	free(out);
	/* JSON's own line breaks and escapes are left alone */
	expect("{\n\t\"a\": \"\\u001b\"\n}", DBR_SANITIZE_JSON, "{\n\t\"a\": \"\\u001b\"\n}");
}

static void test_cap_never_splits(void **state)
{
	char *out;

	(void)state;
	/* an escape is never cut in half */
	out = san("abcdef\x1b\x1b\x1b", DBR_SANITIZE_LINE, 12);
	assert_string_equal(out, "abcdef...");
	free(out);
	/* nor a character */
	out = san("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", DBR_SANITIZE_LINE, 10);
	assert_string_equal(out, "\xe2\x82\xac\xe2\x82\xac...");
	free(out);
}

static void test_cut_hides_a_split_secret(void **state)
{
	const char *tok = "dapi0123456789abcdef0123456789abcdef";
	char text[200];
	size_t n;

	(void)state;
	snprintf(text, sizeof(text), "token %s rejected", tok);
	/* a cut inside the token drops all of it */
	n = dbr_text_cut_len(text, strlen(text), 6 + 35);
	assert_int_equal(n, 6);
	/* so does one right after its first character */
	assert_int_equal(dbr_text_cut_len(text, strlen(text), 7), 6);
	/* a cut between words stays where it is */
	assert_int_equal(dbr_text_cut_len(text, strlen(text), 6 + 36), 6 + 36);
	/* words and padding are not secrets: cut as asked */
	assert_int_equal(dbr_text_cut_len("mmmmmmmmmmmmmmmmmmmm", 20, 10), 10);
	assert_int_equal(dbr_text_cut_len("hello world", 11, 8), 8);
	/* fits: untouched */
	assert_int_equal(dbr_text_cut_len(text, strlen(text), 500), strlen(text));
}

/* dbr_err_set cuts a message that does not fit before anything masked it */
static void test_err_cut_hides_a_split_secret(void **state)
{
	const char *tok = "hvs.CAESIJabcdefghijklmnopqrstuvwxyz0123456789";
	struct dbr_err err = DBR_ERR_INIT;
	char pad[DBR_ERR_MSG_MAX];
	size_t at = DBR_ERR_MSG_MAX - 20;

	(void)state;
	memset(pad, 'x', sizeof(pad));
	pad[at] = '\0';
	pad[at - 1] = ' ';
	dbr_err_set(&err, DBR_E_API, "%s%s tail", pad, tok);
	assert_true(strlen(err.msg) < DBR_ERR_MSG_MAX);
	assert_null(strstr(err.msg, "hvs.CAES"));
	assert_non_null(strstr(err.msg, "..."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminal_sequences),
		cmocka_unit_test(test_bidi_and_separators),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_json_stays_json),
		cmocka_unit_test(test_cap_never_splits),
		cmocka_unit_test(test_cut_hides_a_split_secret),
		cmocka_unit_test(test_err_cut_hides_a_split_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
