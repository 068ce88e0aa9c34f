/* dbroker version: the version, and where plugins are looked for. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

static const char version_usage[] =
"usage: dbroker [global options] version\n"
"\nPrints the version; with -o json {\"version\", \"plugin_dir\"} (the plugin\n"
"directory in effect: --plugin-dir, DBROKER_PLUGIN_DIR or the installed one).\n"
"\n"
"examples:\n"
"  dbroker version\n"
"  dbroker -o json version\n"
"\n"
"exit status: 0 printed, 1 stdout cannot be written, 2 an argument it does not\n"
"take (see 'dbroker --help').\n";

static int run_version(struct cli *cli, int argc, char **argv)
{
	const char *dir = cli->plugin_dir ? cli->plugin_dir : dbr_chain_plugin_dir();
	cJSON *o;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(version_usage, stdout);
			return EXIT_OK;
		}
		return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' to 'version'",
				 argv[i]);
	}
	if (cli->output == CLI_OUTPUT_TEXT) {
		cli_printf(cli, "dbroker %s\n", dbr_version());
		return EXIT_OK;
	}
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "version", dbr_version()) ||
	    !cJSON_AddStringToObject(o, "plugin_dir", dir)) {
		cJSON_Delete(o);
		return cli_fail(cli, DBR_E_NOMEM, "out of memory");
	}
	cli_print_json(cli, o);
	cJSON_Delete(o);
	return EXIT_OK;
}

const struct cli_command cli_cmd_version = {
	.name = "version",
	.summary = "show the version (-o json: also the plugin directory)",
	.run = run_version,
};
