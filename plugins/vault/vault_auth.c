/* The Vault token: VAULT_TOKEN, then ~/.vault-token, then AppRole login
 * (the vault CLI's order, plus AppRole for unattended use). A token the
 * provider obtained itself is revoked (revoke-self) in fini. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault_internal.h"

/* revoke-self at exit: the command's work is done, so no long wait */
#define VAULT_REVOKE_TIMEOUT_MS 3000L

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Read all of fd into buf, trimmed of surrounding white space. */
static int read_fd(struct vault *v, int fd, const char *path, const char *what,
		   char *buf, size_t cap, size_t *len)
{
	size_t n = 0, b = 0;
	ssize_t r = 0;

	for (;;) {
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap)
			break;
	}
	if (r < 0 || n == cap) {
		v->svc->set_reason(v->h, "cannot read %s '%s': %s", what, path,
				   r < 0 ? strerror(errno) : "too large");
		return r < 0 ? DBR_E_IO : DBR_E_TOO_LARGE;
	}
	while (n && is_space(buf[n - 1]))
		n--;
	while (b < n && is_space(buf[b]))
		b++;
	memmove(buf, buf + b, n - b);
	*len = n - b;
	return 0;
}

/* Read a small secret file that only its owner may read into buf (trimmed).
 * Returns 0, or an error with the reason set; buf is wiped by the caller. */
static int read_private_file(struct vault *v, const char *path, const char *what,
			     char *buf, size_t cap, size_t *len)
{
	struct stat st;
	int fd, rc;

	*len = 0;
	if (strcmp(path, "-") == 0) {
		/* "-": a pipe from whoever started dbroker (never a terminal) */
		if (isatty(STDIN_FILENO)) {
			v->svc->set_reason(v->h, "%s is '-' (stdin) but stdin is a terminal: pipe "
					   "it in, or name a 0600 file", what);
			return DBR_E_USAGE;
		}
		return read_fd(v, STDIN_FILENO, "stdin", what, buf, cap, len);
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		v->svc->set_reason(v->h, "cannot open %s '%s': %s", what, path, strerror(errno));
		return errno == ENOENT ? DBR_E_NOT_HERE : DBR_E_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		v->svc->set_reason(v->h, "%s '%s' is not a regular file", what, path);
		return DBR_E_IO;
	}
	if ((st.st_mode & 077) || st.st_uid != geteuid()) {
		close(fd);
		v->svc->set_reason(v->h, "refusing %s '%s': it is readable by others or not "
				   "yours (mode %03o); run 'chmod 600 %s'", what, path,
				   (unsigned)(st.st_mode & 0777), path);
		return DBR_E_UNSAFE_PERM;
	}
	rc = read_fd(v, fd, path, what, buf, cap, len);
	close(fd);
	return rc;
}

static int token_file(struct vault *v)
{
	const char *home = getenv("HOME");
	char path[4096], buf[VAULT_FILE_MAX];
	size_t len = 0;
	int rc;

	if (!home || !*home)
		return DBR_E_NOT_HERE;
	if ((size_t)snprintf(path, sizeof(path), "%s/.vault-token", home) >= sizeof(path))
		return DBR_E_NOT_HERE;
	rc = read_private_file(v, path, "the Vault token file", buf, sizeof(buf), &len);
	if (rc == 0 && len == 0)
		rc = DBR_E_NOT_HERE;
	if (rc == 0)
		rc = vault_take_token(v, buf, len, "~/.vault-token");
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int valid_role_id(const char *s)
{
	if (!*s || strlen(s) > 256)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* Build {"role_id":"R","secret_id":"S"} as a secret body; mask S. */
static int approle_body(struct vault *v, const char *role_id, const char *sid_path,
			struct dbr_secret **body)
{
	const struct dbr_host_services *svc = v->svc;
	struct dbr_secret *sid = NULL;
	char buf[VAULT_FILE_MAX];
	size_t len = 0;
	int rc;

	*body = NULL;
	rc = read_private_file(v, sid_path, "the AppRole secret ID file", buf, sizeof(buf),
			       &len);
	if (rc == DBR_E_NOT_HERE)
		rc = DBR_E_IO; /* configured but missing: an error */
	if (rc == 0 && len == 0) {
		svc->set_reason(v->h, "the AppRole secret ID file '%s' is empty", sid_path);
		rc = DBR_E_INVAL;
	}
	for (size_t i = 0; rc == 0 && i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == '"' || buf[i] == '\\' ||
		    buf[i] == 0x7f) {
			svc->set_reason(v->h, "the AppRole secret ID in '%s' contains a quote, "
					"backslash or control character", sid_path);
			rc = DBR_E_INVAL;
		}
	if (rc == 0)
		rc = svc->secret_new(buf, len, &sid);
	if (rc == 0) {
		rc = svc->mask_secret(v->h, sid);
		if (rc)
			svc->set_reason(v->h, "refusing the AppRole secret ID in '%s': %s",
					sid_path, rc == DBR_E_SHORT_SECRET ?
					"too short to be masked reliably" : dbr_strerror(rc));
	}
	if (rc == 0)
		rc = svc->secret_alloc(len + strlen(role_id) + 40, body);
	if (rc == 0)
		rc = svc->secret_append(*body, "{\"role_id\":\"", 12);
	if (rc == 0)
		rc = svc->secret_append(*body, role_id, strlen(role_id));
	if (rc == 0)
		rc = svc->secret_append(*body, "\",\"secret_id\":\"", 15);
	if (rc == 0)
		rc = svc->secret_append(*body, buf, len);
	if (rc == 0)
		rc = svc->secret_append(*body, "\"}", 2);
	explicit_bzero(buf, sizeof(buf));
	svc->secret_free(sid);
	if (rc && *body) {
		svc->secret_free(*body);
		*body = NULL;
	}
	return rc;
}

static int approle_login(struct vault *v, const char *role_id, const char *sid_path)
{
	const struct dbr_host_services *svc = v->svc;
	struct vault_reply r = { 0, DBR_HTTP_RESPONSE_INIT };
	struct dbr_secret *body = NULL;
	int rc;

	if (!valid_role_id(role_id)) {
		svc->set_reason(v->h, "vault_role_id in profile '%s' is not a valid role ID "
				"(letters, digits, '-', '_', '.')", svc->profile_name(v->h));
		return DBR_E_CONFIG;
	}
	rc = approle_body(v, role_id, sid_path, &body);
	if (rc)
		return rc;
	v->token_origin = "AppRole login";
	rc = vault_call(v, "POST", "auth/approle/login", 0, body, &r);
	svc->secret_free(body);
	if (rc == 0)
		rc = vault_parse_login(v, &r, role_id, sid_path);
	vault_reply_release(v, &r);
	return rc;
}

int vault_auth(struct vault *v)
{
	const struct dbr_host_services *svc = v->svc;
	const char *env = getenv("VAULT_TOKEN");
	const char *role_id, *sid_path;
	int rc;

	if (v->token)
		return 0;
	if (env && *env) {
		size_t len = strlen(env);

		rc = vault_take_token(v, env, len, "VAULT_TOKEN");
		svc->env_scrub("VAULT_TOKEN");
		return rc;
	}
	rc = token_file(v);
	if (rc != DBR_E_NOT_HERE)
		return rc;
	role_id = svc->config_get(v->h, "vault_role_id");
	sid_path = vault_conf(v, "VAULT_SECRET_ID_FILE", "vault_secret_id_file");
	if (role_id && *role_id && sid_path && *sid_path) {
		const char *home = getenv("HOME");
		char expanded[4096];

		/* "~/x" in the profile means the user's home, as the shell would */
		if (strncmp(sid_path, "~/", 2) == 0 && home && *home &&
		    (size_t)snprintf(expanded, sizeof(expanded), "%s/%s", home, sid_path + 2) <
		    sizeof(expanded))
			return approle_login(v, role_id, expanded);
		return approle_login(v, role_id, sid_path);
	}
	if (role_id && *role_id) {
		svc->set_reason(v->h, "vault_role_id is set in profile '%s' but no secret ID "
				"file: set VAULT_SECRET_ID_FILE or vault_secret_id_file",
				svc->profile_name(v->h));
		return DBR_E_CONFIG;
	}
	svc->set_reason(v->h, "no Vault token: set VAULT_TOKEN, run 'vault login' "
			"(~/.vault-token), or configure AppRole (vault_role_id and "
			"vault_secret_id_file)");
	return DBR_E_CONFIG; /* nothing was sent: not a rejected credential */
}

/* Why revoke-self did not succeed, for the warning. */
static void revoke_failure(const struct vault *v, int rc, long status, char *dst, size_t cap)
{
	if (rc == 0)
		snprintf(dst, cap, "Vault answered HTTP %ld", status);
	else if (rc == DBR_E_TIMEOUT)
		snprintf(dst, cap, "Vault did not answer within %ld s",
			 VAULT_REVOKE_TIMEOUT_MS / 1000);
	else if (rc == DBR_E_INTERRUPTED)
		snprintf(dst, cap, "interrupted");
	else
		snprintf(dst, cap, "could not reach Vault at '%s' (%s)", v->addr, dbr_strerror(rc));
}

/* Revoke the token from an AppRole login: once, and briefly, since the
 * command's work is done and the token expires with its TTL anyway. */
static void revoke_login_token(struct vault *v)
{
	struct vault_reply r = { 0, DBR_HTTP_RESPONSE_INIT };
	int saved_retries = v->max_retries;
	long saved_timeout = v->timeout_ms;
	char why[256];
	int rc;

	v->max_retries = 0;
	if (!v->timeout_ms || v->timeout_ms > VAULT_REVOKE_TIMEOUT_MS)
		v->timeout_ms = VAULT_REVOKE_TIMEOUT_MS;
	rc = vault_call(v, "POST", "auth/token/revoke-self", 1, NULL, &r);
	if (rc == 0 && r.status / 100 == 2) {
		v->svc->log(v->h, DBR_LOG_DEBUG, "revoked the token from the AppRole login");
	} else {
		revoke_failure(v, rc, r.status, why, sizeof(why));
		v->svc->log(v->h, DBR_LOG_WARN, "could not revoke the Vault token from the AppRole "
			    "login: %s; it expires with its TTL", why);
	}
	vault_reply_release(v, &r);
	v->max_retries = saved_retries;
	v->timeout_ms = saved_timeout;
}

void vault_auth_release(struct vault *v)
{
	if (v->token && v->token_from_login)
		revoke_login_token(v);
	v->svc->secret_free(v->token);
	v->token = NULL;
	v->token_from_login = 0;
}
