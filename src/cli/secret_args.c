/* Secrets never come from argv: refuse flags that would carry one. */
#include <string.h>

#include "dbroker/bytes.h"

#include "cli.h"
#include "banned.h"

static const char *const secret_flags[] = {
	"--token", "--password", "--pat", "--secret", "--client-secret",
	"--vault-token", "--secret-id", "--access-token", "--api-key",
	"--databricks-token",
};

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_token_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-' || c == '_';
}

/* prefix followed by at least min characters that pass ok, anywhere in s */
static int has_run(const char *s, const char *prefix, int min, int (*ok)(char))
{
	size_t k = strlen(prefix);

	for (const char *p = s; (p = strstr(p, prefix)) != NULL; p += k) {
		int n = 0;

		while (n < min && ok(p[k + n]))
			n++;
		if (n == min)
			return 1;
	}
	return 0;
}

/* A Databricks PAT or a service principal's OAuth secret ("dapi"/"dose" +
 * 32 hex) anywhere, as in '--frob=dapi...'; a Vault service, batch or
 * recovery token at the start, or anywhere with 20 token characters. */
static int looks_like_token(const char *s)
{
	static const char *const vault[] = { "hvs.", "hvb.", "hvr." };

	if (has_run(s, "dapi", 32, is_hex) || has_run(s, "dose", 32, is_hex))
		return 1;
	for (size_t i = 0; i < sizeof(vault) / sizeof(vault[0]); i++)
		if (strncmp(s, vault[i], 4) == 0 || has_run(s, vault[i], 20, is_token_char))
			return 1;
	return 0;
}

int cli_refuse_secret_arg(char *arg, struct dbr_err *err)
{
	size_t n;
	const char *hint = "";

	for (size_t i = 0; i < sizeof(secret_flags) / sizeof(secret_flags[0]); i++) {
		n = strlen(secret_flags[i]);
		if (strncmp(arg, secret_flags[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
			if (arg[n] == '=')
				dbr_wipe(arg + n + 1, strlen(arg + n + 1));
			arg[n] = '\0';
			return dbr_err_set(err, DBR_E_SECRET_FLAG,
				"'%s' is refused: a secret on the command line is visible to every "
				"user in 'ps' and stays in your shell history.\n"
				"safe ways to give dbroker a token:\n"
				"  DATABRICKS_TOKEN        from the environment, removed as soon as it is read\n"
				"                          (set it without echo: read -rs DATABRICKS_TOKEN)\n"
				"  DATABRICKS_CLIENT_SECRET a service principal's secret, likewise (with\n"
				"                          DATABRICKS_CLIENT_ID)\n"
				"  dbroker login           a no-echo prompt or stdin, stored in the OS keyring\n"
				"                          (with the keyring provider plugin)\n"
				"  vault_addr, vault_path  HashiCorp Vault KV (with the vault provider plugin)",
				arg);
		}
	}
	if (looks_like_token(arg)) {
		dbr_wipe(arg, strlen(arg));
		hint = "an argument looks like a token and was refused: it has been visible in "
		       "'ps' and your shell history, so revoke it and create a new one; then give "
		       "it to 'dbroker login' at its prompt or on stdin";
		return dbr_err_set(err, DBR_E_SECRET_FLAG, "%s", hint);
	}
	return 0;
}
