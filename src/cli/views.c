/* The -o text views: the workspace's JSON as tables, with the columns the
 * official Databricks CLI shows. -o json prints the JSON itself. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "table.h"
#include "banned.h"

/* obj.a.b... as text: strings as they are, numbers whole, booleans as
 * words; "" when absent. buf holds the number forms. */
static const char *field(const cJSON *obj, const char *path, char *buf, size_t cap)
{
	char key[64];
	const char *p = path;
	const cJSON *v = obj;

	while (v && *p) {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(key))
			return "";
		memcpy(key, p, n);
		key[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, key);
		p += n + (p[n] == '.');
	}
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(buf, cap, "%.0f", v->valuedouble);
		return buf;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	return "";
}

/* Parse json and find its array under key (absent: empty). */
static int items(const char *json, const char *key, cJSON **doc, const cJSON **arr)
{
	*doc = cJSON_Parse(json);
	if (!*doc)
		return DBR_E_API;
	*arr = cJSON_GetObjectItemCaseSensitive(*doc, key);
	if (*arr && !cJSON_IsArray(*arr))
		return DBR_E_API;
	return 0;
}

/* Print t unless rc says otherwise; free t and doc. Returns rc or
 * cli_table_print()'s code. */
static int finish(struct cli *cli, struct cli_table *t, cJSON *doc, int rc)
{
	if (rc == 0)
		rc = cli_table_print(cli, t);
	cli_table_release(t);
	cJSON_Delete(doc);
	return rc;
}

/* One table of the array under key: headers, then paths[] of each item. */
static int list_view(struct cli *cli, const char *json, const char *key, size_t ncols,
		     const char *const *headers, const char *const *paths)
{
	struct cli_table t;
	const cJSON *arr = NULL, *it;
	cJSON *doc = NULL;
	int rc = items(json, key, &doc, &arr);

	cli_table_init(&t, ncols);
	if (rc == 0)
		rc = cli_table_add(&t, headers);
	cJSON_ArrayForEach(it, arr) {
		char bufs[TABLE_MAX_COLS][32];
		const char *row[TABLE_MAX_COLS];

		if (rc)
			break;
		for (size_t i = 0; i < ncols; i++)
			row[i] = field(it, paths[i], bufs[i], sizeof(bufs[i]));
		/* a run that has not ended has no result state yet */
		if (strcmp(key, "runs") == 0 && !row[2][0])
			row[2] = field(it, "state.life_cycle_state", bufs[2], sizeof(bufs[2]));
		rc = cli_table_add(&t, row);
	}
	return finish(cli, &t, doc, rc);
}

int cli_view_clusters(struct cli *cli, const char *json)
{
	static const char *const h[] = { "ID", "Name", "State" };
	static const char *const p[] = { "cluster_id", "cluster_name", "state" };

	return list_view(cli, json, "clusters", 3, h, p);
}

int cli_view_jobs(struct cli *cli, const char *json)
{
	static const char *const h[] = { "ID", "Name" };
	static const char *const p[] = { "job_id", "settings.name" };

	return list_view(cli, json, "jobs", 2, h, p);
}

int cli_view_runs(struct cli *cli, const char *json)
{
	static const char *const h[] = { "Job ID", "Run ID", "Result State", "URL" };
	static const char *const p[] = { "job_id", "run_id", "state.result_state",
					 "run_page_url" };

	return list_view(cli, json, "runs", 4, h, p);
}

/* clusters get: one "Field  value" line per field the cluster has. */
int cli_view_cluster(struct cli *cli, const char *json)
{
	static const struct { const char *label, *path; } rows[] = {
		{ "ID", "cluster_id" },
		{ "Name", "cluster_name" },
		{ "State", "state" },
		{ "Message", "state_message" },
		{ "Spark version", "spark_version" },
		{ "Node type", "node_type_id" },
		{ "Driver node type", "driver_node_type_id" },
		{ "Workers", "num_workers" },
		{ "Autoscale min", "autoscale.min_workers" },
		{ "Autoscale max", "autoscale.max_workers" },
		{ "Instance pool", "instance_pool_id" },
		{ "Policy", "policy_id" },
		{ "Autotermination", "autotermination_minutes" },
		{ "Security mode", "data_security_mode" },
		{ "Single user", "single_user_name" },
		{ "Runtime engine", "runtime_engine" },
		{ "Creator", "creator_user_name" },
		{ "Termination", "termination_reason.code" },
	};
	struct cli_table t;
	cJSON *doc = cJSON_Parse(json);
	int rc = doc && cJSON_IsObject(doc) ? 0 : DBR_E_API;

	cli_table_init(&t, 2);
	for (size_t i = 0; rc == 0 && i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[32], mins[48];
		const char *row[2] = { rows[i].label,
				       field(doc, rows[i].path, buf, sizeof(buf)) };

		if (!row[1][0])
			continue;
		if (strcmp(rows[i].path, "autotermination_minutes") == 0) {
			snprintf(mins, sizeof(mins), "%sm", row[1]);
			row[1] = strcmp(buf, "0") ? mins : "never";
		}
		rc = cli_table_add(&t, row);
	}
	return finish(cli, &t, doc, rc);
}
