/* Strict JSON syntax check for cluster specs, and the small text helpers the
 * spec messages share.
 *
 * cJSON builds the tree, but it accepts input RFC 8259 refuses (01, 1.,
 * raw tabs in strings, text after the value), points one byte past a bad
 * field name and at the start of an unterminated string's content, and
 * cannot say what went wrong. This scanner runs first and reports the exact
 * line:column (1-based, columns in bytes), what is wrong and what to do,
 * with a short excerpt of the line and a caret.
 */
#include "cluster_spec_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Cluster specs nest 3 deep; this only stops silly input early (cJSON's own
 * limit is 1000, and both recurse). */
#define SCAN_DEPTH_MAX 64
/* cJSON copies a number into a 64-byte buffer and fails past it. */
#define SCAN_NUMBER_MAX 40
/* Widest excerpt of the offending line, in bytes. */
#define EXCERPT_MAX 40

struct scan {
	const unsigned char *s;
	size_t len;
	size_t pos;
	int depth;
	size_t err_pos;
	const char *noun;   /* "spec", "run": names the document */
	char what[320];
};

static int scan_fail(struct scan *sc, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int scan_fail(struct scan *sc, size_t pos, const char *fmt, ...)
{
	va_list ap;

	sc->err_pos = pos;
	va_start(ap, fmt);
	vsnprintf(sc->what, sizeof(sc->what), fmt, ap);
	va_end(ap);
	return -1;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_word(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int at_end(const struct scan *sc)
{
	return sc->pos >= sc->len;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len && is_ws(sc->s[sc->pos]))
		sc->pos++;
}

/* A field name from the input (raw, escapes kept), fit for "%.*s". */
static int key_shown(const struct scan *sc, size_t key, size_t keylen)
{
	size_t n = keylen < SPEC_NAME_SHOWN ? keylen : SPEC_NAME_SHOWN;

	while (n > 0 && n < keylen && (sc->s[key + n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static void line_col(const unsigned char *s, size_t pos, size_t *line, size_t *col)
{
	size_t start = 0;

	*line = 1;
	for (size_t i = 0; i < pos; i++)
		if (s[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = pos - start + 1;
}

static int fail_eof(struct scan *sc, size_t open, char closer)
{
	size_t line, col;

	line_col(sc->s, open, &line, &col);
	return scan_fail(sc, sc->len,
			 "unexpected end of input; add the '%c' that closes the %s opened at %zu:%zu",
			 closer, closer == '}' ? "object" : "array", line, col);
}

/* Something that cannot start a value: say what it looks like. */
static int fail_value(struct scan *sc)
{
	unsigned char c = sc->s[sc->pos];
	size_t n = 0;

	if (is_word(c)) {
		while (sc->pos + n < sc->len && n < SPEC_NAME_SHOWN &&
		       (is_word(sc->s[sc->pos + n]) || sc->s[sc->pos + n] == '-' ||
			sc->s[sc->pos + n] == '.'))
			n++;
		return scan_fail(sc, sc->pos,
				 "invalid value '%.*s'; put text in double quotes, or use true, false or null",
				 (int)n, (const char *)sc->s + sc->pos);
	}
	if (c == '}' || c == ']' || c == ',')
		return scan_fail(sc, sc->pos, "expected a value before '%c'", c);
	if (c == '\'')
		return scan_fail(sc, sc->pos, "single quotes are not JSON; use double quotes");
	if (c > 0x20 && c < 0x7f)
		return scan_fail(sc, sc->pos, "unexpected '%c'; expected a value", c);
	return scan_fail(sc, sc->pos, "unexpected byte 0x%02x; expected a value", c);
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (is_digit(c))
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* At a backslash inside a string; open is the string's opening quote. */
static int scan_escape(struct scan *sc, size_t open)
{
	size_t e = sc->pos;
	unsigned cp, lo;
	unsigned char c;

	if (e + 1 >= sc->len)
		return scan_fail(sc, open, "unterminated string; add the closing '\"'");
	c = sc->s[e + 1];
	if (c && strchr("\"\\/bfnrt", c)) {
		sc->pos += 2;
		return 0;
	}
	if (c != 'u') {
		if (c > 0x20 && c < 0x7f)
			return scan_fail(sc, e, "invalid escape '\\%c'; write '\\\\' for a backslash", c);
		return scan_fail(sc, e, "invalid escape; write '\\\\' for a backslash");
	}
	if (e + 6 > sc->len || hex4(sc->s + e + 2, &cp))
		return scan_fail(sc, e, "invalid escape; '\\u' takes exactly 4 hex digits");
	if (cp == 0)
		return scan_fail(sc, e, "'\\u0000' (a NUL character) is not allowed in a %s",
					 sc->noun);
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return scan_fail(sc, e, "unpaired UTF-16 surrogate '\\u%04x'; write the character itself", cp);
	sc->pos += 6;
	if (cp < 0xD800 || cp > 0xDBFF)
		return 0;
	if (sc->pos + 6 > sc->len || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u' ||
	    hex4(sc->s + sc->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
		return scan_fail(sc, e, "unpaired UTF-16 surrogate '\\u%04x'; write the character itself", cp);
	sc->pos += 6;
	return 0;
}

static int scan_string(struct scan *sc)
{
	size_t open = sc->pos++;

	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];
		size_t n;

		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c == '\\') {
			if (scan_escape(sc, open))
				return -1;
			continue;
		}
		if (c == '\n' || c == '\r')
			return scan_fail(sc, open,
					 "unterminated string; add the closing '\"' (a string cannot span lines)");
		if (c < 0x20)
			return scan_fail(sc, sc->pos,
					 "control character 0x%02x in a string; write it as an escape (\\t, \\u00%02x)",
					 c, c);
		if (c >= 0x80) {
			n = spec_utf8_len(sc->s + sc->pos, sc->len - sc->pos);
			if (!n)
				return scan_fail(sc, sc->pos, "invalid UTF-8 in a string; save the %s as UTF-8",
						 sc->noun);
			sc->pos += n;
			continue;
		}
		sc->pos++;
	}
	return scan_fail(sc, open, "unterminated string; add the closing '\"'");
}

static int scan_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
		sc->pos++;
	return sc->pos > start;
}

static int scan_number(struct scan *sc)
{
	size_t start = sc->pos;

	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0') {
		sc->pos++;
		if (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			return scan_fail(sc, start, "invalid number; leading zeros are not allowed");
	} else if (!scan_digits(sc)) {
		return scan_fail(sc, start, "invalid number; a digit must follow '-'");
	}
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (!scan_digits(sc))
			return scan_fail(sc, start, "invalid number; digits must follow '.'");
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (!scan_digits(sc))
			return scan_fail(sc, start, "invalid number; digits must follow the exponent");
	}
	if (sc->pos < sc->len && (is_word(sc->s[sc->pos]) || sc->s[sc->pos] == '.'))
		return scan_fail(sc, start, "invalid number; numbers look like 12, -3, 0.5 or 1e3");
	if (sc->pos - start > SCAN_NUMBER_MAX)
		return scan_fail(sc, start, "number longer than %d characters", SCAN_NUMBER_MAX);
	return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos >= n && !memcmp(sc->s + sc->pos, word, n) &&
	    (sc->pos + n == sc->len || !is_word(sc->s[sc->pos + n]))) {
		sc->pos += n;
		return 0;
	}
	return fail_value(sc);
}

static int scan_object(struct scan *sc);
static int scan_array(struct scan *sc);

static int scan_value(struct scan *sc)
{
	unsigned char c;

	if (at_end(sc))
		return scan_fail(sc, sc->pos, "unexpected end of input; expected a value");
	c = sc->s[sc->pos];
	switch (c) {
	case '{':
		return scan_object(sc);
	case '[':
		return scan_array(sc);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		break;
	}
	if (c == '-' || is_digit(c))
		return scan_number(sc);
	return fail_value(sc);
}

static int enter(struct scan *sc)
{
	if (++sc->depth > SCAN_DEPTH_MAX)
		return scan_fail(sc, sc->pos, "objects and arrays nest deeper than %d levels",
				 SCAN_DEPTH_MAX);
	sc->pos++;
	skip_ws(sc);
	return 0;
}

static int scan_object(struct scan *sc)
{
	size_t open = sc->pos, comma = 0, key, keylen, value_end;
	int have_comma = 0;
	unsigned char c;

	if (enter(sc))
		return -1;
	if (!at_end(sc) && sc->s[sc->pos] == '}')
		goto done;
	for (;;) {
		skip_ws(sc);
		if (at_end(sc))
			return fail_eof(sc, open, '}');
		c = sc->s[sc->pos];
		if (c != '"') {
			if (c == '}' && have_comma)
				return scan_fail(sc, comma, "trailing ',' before '}'; remove it");
			if (c == '\'')
				return scan_fail(sc, sc->pos,
						 "single quotes are not JSON; put the field name in double quotes");
			return scan_fail(sc, sc->pos, "expected a field name in double quotes");
		}
		key = sc->pos + 1;
		if (scan_string(sc))
			return -1;
		keylen = sc->pos - 1 - key;
		skip_ws(sc);
		if (at_end(sc))
			return fail_eof(sc, open, '}');
		if (sc->s[sc->pos] != ':')
			return scan_fail(sc, sc->pos, "expected ':' after the field name '%.*s'",
					 key_shown(sc, key, keylen), (const char *)sc->s + key);
		sc->pos++;
		skip_ws(sc);
		if (scan_value(sc))
			return -1;
		value_end = sc->pos;
		skip_ws(sc);
		if (at_end(sc))
			return fail_eof(sc, open, '}');
		c = sc->s[sc->pos];
		if (c == '}')
			break;
		if (c == ',') {
			comma = sc->pos++;
			have_comma = 1;
			continue;
		}
		/* another field follows: the comma belongs right after the value */
		if (c == '"')
			return scan_fail(sc, value_end, "missing ',' after the value of '%.*s'; add one",
					 key_shown(sc, key, keylen), (const char *)sc->s + key);
		return scan_fail(sc, sc->pos, "expected ',' or '}' after the value of '%.*s'",
				 key_shown(sc, key, keylen), (const char *)sc->s + key);
	}
done:
	sc->pos++;
	sc->depth--;
	return 0;
}

static int scan_array(struct scan *sc)
{
	size_t open = sc->pos, comma = 0, value_end;
	int have_comma = 0;
	unsigned char c;

	if (enter(sc))
		return -1;
	if (!at_end(sc) && sc->s[sc->pos] == ']')
		goto done;
	for (;;) {
		skip_ws(sc);
		if (at_end(sc))
			return fail_eof(sc, open, ']');
		if (sc->s[sc->pos] == ']' && have_comma)
			return scan_fail(sc, comma, "trailing ',' before ']'; remove it");
		if (scan_value(sc))
			return -1;
		value_end = sc->pos;
		skip_ws(sc);
		if (at_end(sc))
			return fail_eof(sc, open, ']');
		c = sc->s[sc->pos];
		if (c == ']')
			break;
		if (c == ',') {
			comma = sc->pos++;
			have_comma = 1;
			continue;
		}
		if (c == '"' || c == '{' || c == '[' || c == '-' || is_word(c))
			return scan_fail(sc, value_end, "missing ',' between array elements; add one");
		return scan_fail(sc, sc->pos, "expected ',' or ']' in the array");
	}
done:
	sc->pos++;
	sc->depth--;
	return 0;
}

static const char *kind_at(unsigned char c)
{
	if (c == '[')
		return "an array";
	if (c == '"')
		return "a string";
	if (c == '-' || is_digit(c))
		return "a number";
	if (c == 't' || c == 'f')
		return "a boolean";
	if (c == 'n')
		return "null";
	return NULL;
}

static int scan_top(struct scan *sc)
{
	const char *kind;

	/* editors on some systems start UTF-8 files with a byte order mark */
	if (sc->len >= 3 && !memcmp(sc->s, "\xEF\xBB\xBF", 3))
		sc->pos = 3;
	skip_ws(sc);
	if (at_end(sc))
		return scan_fail(sc, sc->pos, "the %s is empty; give a JSON object ({...})",
				 sc->noun);
	if (sc->s[sc->pos] != '{') {
		kind = kind_at(sc->s[sc->pos]);
		if (kind)
			return scan_fail(sc, sc->pos,
					 "the %s must be a JSON object ({...}), not %s", sc->noun,
					 kind);
		return scan_fail(sc, sc->pos, "expected '{'; the %s must be a JSON object ({...})",
				 sc->noun);
	}
	if (scan_object(sc))
		return -1;
	skip_ws(sc);
	if (!at_end(sc))
		return scan_fail(sc, sc->pos,
				 "unexpected text after the end of the JSON object; remove it");
	return 0;
}

/* Excerpt of the line holding pos: at most EXCERPT_MAX bytes around it, cut
 * at character boundaries, "..." where cut, control bytes shown as '?',
 * tabs as spaces (so the caret lines up), then a caret line. */
static void add_excerpt(char *dst, size_t cap, const unsigned char *s, size_t len, size_t pos)
{
	size_t ls = pos, le = pos, a, b, o, caret = 0;
	char line[EXCERPT_MAX * 2 + 8];
	int blank = 1;

	while (ls > 0 && s[ls - 1] != '\n')
		ls--;
	while (le < len && s[le] != '\n')
		le++;
	if (le > ls && s[le - 1] == '\r')
		le--;
	a = ls;
	b = le;
	if (b - a > EXCERPT_MAX) {
		a = pos > ls + EXCERPT_MAX / 2 ? pos - EXCERPT_MAX / 2 : ls;
		b = a + EXCERPT_MAX < le ? a + EXCERPT_MAX : le;
		if (b - a < EXCERPT_MAX)
			a = b - EXCERPT_MAX;
		while (a > ls && a < le && (s[a] & 0xC0) == 0x80)
			a++;
		while (b < le && b > a && (s[b] & 0xC0) == 0x80)
			b--;
	}
	o = 0;
	if (a > ls) {
		memcpy(line, "...", 3);
		o = caret = 3;
	}
	for (size_t i = a; i < b; i++) {
		unsigned char c = s[i];
		size_t n = c >= 0x80 ? spec_utf8_len(s + i, b - i) : 1;

		if (c != ' ' && c != '\t')
			blank = 0;
		if (n > 1) {
			memcpy(line + o, s + i, n);
			o += n;
			i += n - 1;
		} else {
			line[o++] = c == '\t' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
		}
		if (i < pos)
			caret++;
	}
	if (b < le) {
		memcpy(line + o, "...", 3);
		o += 3;
	}
	line[o] = '\0';
	if (blank)
		return;
	snprintf(dst, cap, "\n    %s\n    %*s^", line, (int)caret, "");
}

int spec_json_check(const char *json, size_t len, const char *origin, const char *noun,
		    struct dbr_err *err)
{
	struct scan sc = { (const unsigned char *)json, len, 0, 0, 0, noun ? noun : "spec", { 0 } };
	const void *nul;
	char excerpt[EXCERPT_MAX * 2 + 32] = "";
	size_t line, col, ws = 0;

	if (!origin)
		origin = "spec";
	while (ws < len && is_ws((unsigned char)json[ws]))
		ws++;
	if (ws == len)
		return dbr_err_set(err, DBR_E_INVAL,
				   "%s: the %s is empty; give a JSON object such as %s", origin, sc.noun,
				   strcmp(sc.noun, "spec") ? "{...}" : "{\"spark_version\": \"...\"}");
	nul = memchr(json, '\0', len);
	if (nul)
		scan_fail(&sc, (size_t)((const char *)nul - json),
			  "NUL byte in the input; a %s is JSON text: check the file", sc.noun);
	else if (!scan_top(&sc))
		return 0;
	line_col(sc.s, sc.err_pos, &line, &col);
	add_excerpt(excerpt, sizeof(excerpt), sc.s, len, sc.err_pos);
	spec_sanitize(sc.what);
	return dbr_err_set(err, DBR_E_INVAL, "%s:%zu:%zu: %s%s", origin, line, col, sc.what,
			   excerpt);
}

size_t spec_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

int spec_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k = spec_utf8_len(u + i, n - i);

		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

int spec_clip(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return (int)n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

void spec_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

static int plain_name(const char *k)
{
	if (!*k || is_digit((unsigned char)*k))
		return 0;
	for (; *k; k++)
		if (!is_word((unsigned char)*k))
			return 0;
	return 1;
}

size_t spec_path_add(char *path, size_t cap, size_t len, const char *key)
{
	int n;

	if (len >= cap)
		return len;
	if (plain_name(key))
		n = snprintf(path + len, cap - len, "%s%.*s", len ? "." : "",
			     spec_clip(key, SPEC_NAME_SHOWN), key);
	else
		n = snprintf(path + len, cap - len, "[\"%.*s\"]", spec_clip(key, SPEC_NAME_SHOWN), key);
	spec_sanitize(path + len);
	if (n < 0)
		return len;
	return len + (size_t)n < cap ? len + (size_t)n : cap - 1;
}

static int cmp_key(const void *a, const void *b)
{
	const cJSON *const *x = a, *const *y = b;

	return strcmp((*x)->string, (*y)->string);
}

static int dup_in(const cJSON *node, char *path, size_t cap, size_t len)
{
	size_t n = 0, i = 0;
	const cJSON *c;
	const cJSON **v;
	int rc = 0;

	cJSON_ArrayForEach(c, node)
		n++;
	if (cJSON_IsObject(node) && n > 1) {
		v = malloc(n * sizeof(*v));
		if (!v)
			return DBR_E_NOMEM;
		cJSON_ArrayForEach(c, node)
			v[i++] = c;
		qsort(v, n, sizeof(*v), cmp_key);
		for (i = 1; i < n; i++)
			if (!strcmp(v[i - 1]->string, v[i]->string)) {
				spec_path_add(path, cap, len, v[i]->string);
				free(v);
				return 1;
			}
		free(v);
	}
	i = 0;
	cJSON_ArrayForEach(c, node) {
		size_t sub = len;

		if (cJSON_IsObject(node))
			sub = spec_path_add(path, cap, len, c->string);
		else if (len < cap)
			sub = len + (size_t)snprintf(path + len, cap - len, "[%zu]", i);
		if (sub >= cap)
			sub = cap - 1;
		i++;
		if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			rc = dup_in(c, path, cap, sub);
			if (rc)
				return rc;
		}
		path[len] = '\0';
	}
	return 0;
}

int spec_find_duplicate(const cJSON *root, char *path, size_t cap)
{
	if (!cap)
		return DBR_E_INTERNAL;
	path[0] = '\0';
	return dup_in(root, path, cap, 0);
}
