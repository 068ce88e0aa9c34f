/* Text tables for -o text, laid out like the official Databricks CLI (Go's
 * tabwriter: columns padded to their widest cell plus two spaces, the last
 * column unpadded). Cells are cleaned of control characters; the table goes
 * out through cli_print, so it is masked like everything else. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"
#include "banned.h"

#define TABLE_PAD 2

void cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
}

/* A copy of s on one line: control characters (tabs, newlines, escapes)
 * become '?'; NULL is "". */
static char *clean_cell(const char *s)
{
	char *c = strdup(s ? s : "");

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	char **row;

	if (t->nrows == t->cap) {
		size_t n = t->cap ? t->cap * 2 : 16;
		char ***nr = realloc(t->rows, n * sizeof(*nr));

		if (!nr)
			return DBR_E_NOMEM;
		t->rows = nr;
		t->cap = n;
	}
	row = calloc(t->ncols, sizeof(*row));
	if (!row)
		return DBR_E_NOMEM;
	t->rows[t->nrows++] = row;
	for (size_t i = 0; i < t->ncols; i++)
		if (!(row[i] = clean_cell(cells[i])))
			return DBR_E_NOMEM;
	return 0;
}

/* Terminal columns of a UTF-8 string: one per code point. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

int cli_table_print(struct cli *cli, const struct cli_table *t)
{
	size_t widths[TABLE_MAX_COLS] = { 0 }, bytes[TABLE_MAX_COLS] = { 0 }, cap = 2;
	char *line;
	int rc = 0;

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			if (width(t->rows[r][i]) > widths[i])
				widths[i] = width(t->rows[r][i]);
			if (strlen(t->rows[r][i]) > bytes[i])
				bytes[i] = strlen(t->rows[r][i]);
		}
	/* a line is at most every column's longest cell plus its padding (not
	 * the width: stray UTF-8 continuation bytes take bytes, not columns) */
	for (size_t i = 0; i < t->ncols; i++)
		cap += bytes[i] + widths[i] + TABLE_PAD;
	line = malloc(cap);
	if (!line)
		return DBR_E_NOMEM;
	for (size_t r = 0; r < t->nrows && rc == 0; r++) {
		size_t last = t->ncols, n = 0;

		/* trailing empty cells leave no trailing blanks */
		while (last > 1 && !t->rows[r][last - 1][0])
			last--;
		for (size_t i = 0; i < last; i++) {
			size_t len = strlen(t->rows[r][i]);

			memcpy(line + n, t->rows[r][i], len);
			n += len;
			for (size_t k = width(t->rows[r][i]); i + 1 < last &&
			     k < widths[i] + TABLE_PAD; k++)
				line[n++] = ' ';
		}
		line[n++] = '\n';
		rc = cli_print(cli, line, n);
	}
	free(line);
	return rc;
}

void cli_table_release(struct cli_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; t->rows[r] && i < t->ncols; i++)
			free(t->rows[r][i]);
		free(t->rows[r]);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
