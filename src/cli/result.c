/* The -o json result of message-style commands (login, logout). */
#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

static cJSON *result(struct cli *cli)
{
	if (!cli->result)
		cli->result = cJSON_CreateObject();
	return cli->result;
}

int cli_result_str(struct cli *cli, const char *key, const char *value)
{
	cJSON *o = result(cli), *v = o ? cJSON_CreateString(value ? value : "") : NULL;

	if (!v)
		return DBR_E_NOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

int cli_result_bool(struct cli *cli, const char *key, int value)
{
	cJSON *o = result(cli), *v = o ? cJSON_CreateBool(value) : NULL;

	if (!v)
		return DBR_E_NOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

int cli_result_flush(struct cli *cli, int exit_code)
{
	int rc = 0;

	if (cli->output == CLI_OUTPUT_JSON) {
		if (!result(cli))
			return cli_fail(cli, DBR_E_NOMEM, "out of memory");
		rc = cli_print_json(cli, cli->result);
	}
	cJSON_Delete(cli->result);
	cli->result = NULL;
	/* a failed stdout is reported by main (cli->stdout_errno) */
	return rc == DBR_E_NOMEM ? EXIT_FAILURE_GENERIC : exit_code;
}
