/* Configuration lines inih cannot take (see config_line.h). */
#include "config_line.h"

#include <string.h>

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
