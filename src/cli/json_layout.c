/* JSON text laid out the way cJSON_Print lays out a document, from the text
 * itself: numbers, strings and their escapes stay exactly as they came. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

/* cJSON refuses documents nested deeper than this (CJSON_NESTING_LIMIT). */
#define MAX_DEPTH 1000

struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->cap - o->len <= n) { /* room for n bytes and the NUL */
		size_t cap = (o->cap + n) * 2 + 64;
		char *p = realloc(o->p, cap);

		if (!p) {
			o->failed = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void newline(struct out *o, unsigned depth)
{
	put(o, "\n", 1);
	for (unsigned i = 0; i < depth; i++)
		put(o, "\t", 1);
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

char *cli_json_layout(const char *s, size_t len, size_t *outlen)
{
	struct out o = { NULL, 0, 0, 0 };
	char in_object[MAX_DEPTH + 1];
	unsigned depth = 0;

	put(&o, "", 0);
	for (size_t i = skip_blanks(s, 0, len); i < len && !o.failed; i = skip_blanks(s, i, len)) {
		char c = s[i];

		if (c == '"') { /* a string, escapes and all */
			size_t j = i + 1;

			while (j < len && s[j] != '"')
				j += s[j] == '\\' ? 2 : 1;
			j = j < len ? j + 1 : len;
			put(&o, s + i, j - i);
			i = j;
			continue;
		}
		i++;
		if (c == '{' || c == '[') {
			size_t next = skip_blanks(s, i, len);
			char close = c == '{' ? '}' : ']';

			put(&o, &c, 1);
			if (next < len && s[next] == close) { /* empty: "{\n}" and "[]" */
				if (c == '{')
					newline(&o, depth);
				put(&o, &close, 1);
				i = next + 1;
				continue;
			}
			if (depth == MAX_DEPTH) { /* cannot be: the caller parsed it */
				o.failed = 1;
				break;
			}
			in_object[++depth] = c == '{';
			if (c == '{')
				newline(&o, depth);
		} else if ((c == '}' || c == ']') && depth > 0) {
			if (c == '}')
				newline(&o, depth - 1);
			put(&o, &c, 1);
			depth--;
		} else if (c == ',') {
			if (depth > 0 && in_object[depth]) {
				put(&o, ",", 1);
				newline(&o, depth);
			} else {
				put(&o, ", ", 2);
			}
		} else if (c == ':') {
			put(&o, ":\t", 2);
		} else { /* a number or a literal, as it came */
			size_t j = i;

			while (j < len && !strchr(" \t\r\n,:[]{}\"", s[j]))
				j++;
			put(&o, &c, 1);
			put(&o, s + i, j - i);
			i = j;
		}
	}
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	if (outlen)
		*outlen = o.len;
	return o.p;
}
