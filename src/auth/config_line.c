/* Configuration lines inih cannot take (see config_line.h). */
#include "config_line.h"

#include <stdlib.h>
#include <string.h>

#include "dbroker/mask.h"
#include "banned.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
}

int config_split_line(char *line, char **name, char **value)
{
	char *sep = line + strcspn(line, "=:"), *v;

	*name = *value = NULL;
	if (!*sep)
		return -1;
	*sep = '\0';
	rstrip(line);
	if (!*line)
		return -1;
	v = sep + 1;
	while (is_space(*v))
		v++;
	/* inih's inline comments: ';' after whitespace */
	for (char *c = v; *c; c++)
		if (*c == ';' && c > v && is_space(c[-1])) {
			*c = '\0';
			break;
		}
	rstrip(v);
	*name = line;
	*value = v;
	return 0;
}

void config_unquote(const char *value, const char **start, size_t *len)
{
	size_t n = strlen(value);

	*start = value;
	*len = n;
	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		*start = value + 1;
		*len = n - 2;
	}
}

int config_secret_comment_line(const char *buf, size_t len)
{
	struct dbr_mask *shapes = NULL;
	const char *p = buf, *end = buf + len;
	int lineno = 0, found = 0;

	if (!buf)
		return 0;
	while (!found && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p;
		char *out = NULL;
		size_t n = 0;

		lineno++;
		if (lineno == 1 && e - s >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
			s += 3;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		/* the masker's own rules, no secret registered: a comment it
		 * changes holds a token's or secret's shape */
		if (s < e && (*s == ';' || *s == '#') &&
		    (shapes || dbr_mask_new(&shapes) == 0) && /* made for the first comment */
		    dbr_mask_buffer(shapes, s, (size_t)(e - s), &out, &n) == 0 &&
		    (n != (size_t)(e - s) || memcmp(out, s, n) != 0))
			found = lineno;
		free(out);
		p = nl ? nl + 1 : end;
	}
	dbr_mask_free(shapes);
	return found;
}
