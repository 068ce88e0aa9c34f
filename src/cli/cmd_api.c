/* dbroker api: any REST call, signed like every other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "banned.h"

#define API_MAX_BODY (16u * 1024 * 1024)

static const char api_usage[] =
"usage: dbroker [global options] api METHOD PATH [--json @FILE | - | TEXT]\n"
"\n"
"Sends one request to the workspace, signed with the resolved token, with the\n"
"same TLS policy, retries and masking as every other command, and prints the\n"
"answer (JSON) on stdout. METHOD is GET, HEAD, POST, PUT, PATCH or DELETE;\n"
"PATH starts with /api/ and may carry a query string, not a fragment ('#').\n"
"With GET and HEAD, --json becomes the query string, as with the official CLI:\n"
"'{\"cluster_id\": \"X\", \"limit\": 5}' is ?cluster_id=X&limit=5 (a list repeats\n"
"its key); with other methods it is the body. Only GET and HEAD are\n"
"retried automatically.\n"
"\n"
"A call other than GET or HEAD whose request was lost after it was sent, or\n"
"answered 500, 502 or 504, may have taken effect: it exits 10, and the\n"
"message says to check whether it did before sending it again.\n"
"\n"
"examples:\n"
"  dbroker api GET /api/2.0/preview/scim/v2/Me\n"
"  dbroker api GET '/api/2.1/clusters/get?cluster_id=1234-567890-abcde123'\n"
"  dbroker api GET /api/2.1/clusters/get --json '{\"cluster_id\": \"1234-567890-abcde123\"}'\n"
"  dbroker api POST /api/2.1/clusters/delete --json '{\"cluster_id\": \"1234-567890-abcde123\"}'\n"
"\n"
"exit status: 0 a 2xx answer, 6 the workspace answered an error (its code and\n"
"message on stderr), 10 may have taken effect (see above), 2 invalid method,\n"
"path or --json (see 'dbroker --help' for the others).\n";

/* Calls whose answer is a new token: the masker would hide it in the
 * answer, leaving a live token nobody can see or revoke by value. */
static const char *const token_minting[] = {
	"/api/2.0/token/create",
	"/api/2.0/token-management/on-behalf-of/tokens",
};

/* 1 if METHOD PATH creates a token (the path compared without its query,
 * trailing slashes and case, as the service routes it). */
static int mints_token(const char *method, const char *path)
{
	size_t n = strcspn(path, "?#");

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (strcmp(method, "POST") != 0)
		return 0;
	for (size_t i = 0; i < sizeof(token_minting) / sizeof(token_minting[0]); i++)
		if (strlen(token_minting[i]) == n && strncasecmp(path, token_minting[i], n) == 0)
			return 1;
	return 0;
}

static int run_api(struct cli *cli, int argc, char **argv)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" };
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	struct dbr_err err = DBR_ERR_INIT;
	struct cli_session s;
	const char *method = NULL, *path = NULL, *json = NULL, *origin = NULL;
	char *body = NULL, *query_path = NULL;
	size_t len = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(api_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--json", &json, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		if (!method)
			method = argv[i];
		else if (!path)
			path = argv[i];
		else
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)",
					 argv[i]);
	}
	if (!method || !path)
		return cli_failf(cli, DBR_E_USAGE, "usage: dbroker api METHOD PATH (see --help)");
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcasecmp(method, methods[i]) == 0)
			method = methods[i];
	if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") &&
	    strcmp(method, "PATCH") && strcmp(method, "DELETE") && strcmp(method, "HEAD"))
		return cli_failf(cli, DBR_E_USAGE,
				 "unknown method '%s': use GET, HEAD, POST, PUT, PATCH or DELETE",
				 method);
	if (strncmp(path, "/api/", 5) != 0)
		return cli_failf(cli, DBR_E_USAGE,
				 "the path must start with /api/, e.g. /api/2.1/clusters/list");
	if (mints_token(method, path))
		return cli_failf(cli, DBR_E_USAGE,
				 "'dbroker api' does not create tokens ('%s %s'): the new token "
				 "would be masked in the answer, valid but never seen; create it "
				 "with dbroker's token commands or in the workspace's user settings",
				 method, path);
	/* the caller's input: refused here as a usage error, before any
	 * credential is looked up (the request module refuses it too) */
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return cli_failf(cli, DBR_E_USAGE, "the path contains a space, line break "
					 "or other control or non-ASCII byte: percent-encode it "
					 "(a space is %%20), or put the values in --json");
	if (strchr(path, '#'))
		return cli_failf(cli, DBR_E_USAGE, "the path has a fragment ('#...'), which is "
				 "never sent to a server: remove it, or write '%%23' for a '#' "
				 "inside a value");
	if (json && (rc = cli_read_json_arg(json, API_MAX_BODY, &body, &len, &origin, &err)))
		return cli_fail(cli, rc, err.msg);
	/* GET and HEAD have no body: --json is the query string */
	if (body && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
		rc = cli_api_query(path, body, len, &query_path, &err);
		free(body);
		body = NULL;
		len = 0;
		if (rc)
			return cli_fail(cli, rc, err.msg);
		path = query_path;
	}
	rc = cli_session_open(cli, &s);
	if (rc == 0) {
		cli_catch_interrupt();
		rc = dbr_client_call(s.client, method, path, body, len, 0, &resp, &aerr, &err);
		if (rc == 0 && resp.body_len)
			cli_print_json_text(cli, resp.body, resp.body_len);
		/* lost after it was sent, or a 500/502/504: a second send could
		 * act twice (a second cluster, a second run) */
		if (rc && dbr_client_outcome_unknown(s.client))
			rc = cli_failf(cli, DBR_E_MAYBE_APPLIED, "the workspace may have acted on "
				       "'%s %s' (%s): check whether it did before sending it "
				       "again", method, path, err.msg);
		else
			rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
	}
	dbr_http_response_release(&resp);
	free(body);
	free(query_path);
	cli_session_close(&s);
	return rc;
}

const struct cli_command cli_cmd_api = {
	.name = "api",
	.summary = "send any REST call to the workspace, signed the same way",
	.run = run_api,
};
