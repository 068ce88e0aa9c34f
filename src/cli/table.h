/* Text tables for -o text (table.c). */
#ifndef DBROKER_CLI_TABLE_H
#define DBROKER_CLI_TABLE_H

#include <stddef.h>

struct cli;

#define TABLE_MAX_COLS 8

/* Rows of ncols cells each; the first row added is usually the header. */
struct cli_table {
	size_t ncols;
	char ***rows;
	size_t nrows, cap;
};

void cli_table_init(struct cli_table *t, size_t ncols);

/* Add a row (ncols cells, NULL for empty), copied and cleaned of control
 * characters. Returns 0 or DBR_E_NOMEM. */
int cli_table_add(struct cli_table *t, const char *const *cells);

/* Print every row, columns aligned, through the masker. Returns 0,
 * DBR_E_NOMEM or cli_print()'s codes. */
int cli_table_print(struct cli *cli, const struct cli_table *t);

/* Free every row. */
void cli_table_release(struct cli_table *t);

/* -o text views of the workspace's answers (views.c). Each takes the JSON
 * as the command received it and returns 0, DBR_E_NOMEM, DBR_E_API (not the
 * expected shape) or cli_print()'s codes. */
int cli_view_clusters(struct cli *cli, const char *json);
int cli_view_cluster(struct cli *cli, const char *json);
int cli_view_jobs(struct cli *cli, const char *json);
int cli_view_runs(struct cli *cli, const char *json);

#endif
