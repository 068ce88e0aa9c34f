/* Profiles from ~/.databrickscfg (see dbroker/config.h).
 *
 * The file is read into a wiping buffer through an fd opened with
 * O_NOFOLLOW, checked with fstat on that same fd, and handed to libinih
 * through a line reader of our own (ini_parse_stream). Only the chosen
 * profile's keys are kept; its `token` goes straight from inih's line buffer
 * into a secret handle, and tokens of other profiles are never copied.
 *
 * Semantics follow the official Go SDK (gopkg.in/ini.v1) where inih differs:
 * - leading whitespace is insignificant (no Python-style continuation lines:
 *   the reader strips indentation before inih sees the line);
 * - keys before the first [section] belong to DEFAULT;
 * - a profile "exists" when it has at least one key;
 * plus, as asked of dbroker: keys compare case-insensitively (kept as
 * written), a repeated key's last value wins, repeated sections merge.
 */
#include "dbroker/config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ini.h>

#include "buf.h"
#include "config_internal.h"
#include "oauth_internal.h"
#include "config_line.h"
#include "dbroker/log.h"
#include "dbroker/secret.h"
/* WARNING: included only for dbr_config_copy_token(), which copies a handle
 * secure-heap to secure-heap (secret.h has no dup); no byte leaves the
 * secure heap here. Drop this include once secret.h offers a dup. */
#include "banned.h"

#define DEFAULT_PROFILE "DEFAULT"
/* inih copies section names into a char[50] (MAX_SECTION in ini.c, not in
 * ini.h), silently cutting longer ones: two long names with a common prefix
 * would merge. Longer names are refused instead. */
#define INIH_MAX_SECTION 50
/* at most this many profile names are listed in an error message */
#define MAX_LISTED_PROFILES 16

struct config_entry {
	char *key;    /* as written in the file (or passed to set) */
	char *value;
};

struct dbr_config {
	char *path;
	char *profile;
	int profile_found;
	int readable_by_others;      /* the file has a group/other read bit */
	int secret_comment_line;     /* a comment holding a token's shape, or 0 */
	int emptied_secret_line;     /* a secret a later empty line cancels, or 0 */
	struct dbr_secret *token;    /* the profile's plaintext token, or NULL */
	struct dbr_secret *client_secret; /* its plaintext OAuth client secret */
	struct config_entry *entries;
	size_t n_entries;
	size_t alloc_entries;
};

/* State shared by the line reader and the key handler during one parse. */
struct parse_ctx {
	struct dbr_config *cfg;
	const char *cur;             /* next unread byte of the file buffer */
	const char *end;
	int lineno;                  /* lines handed to inih so far */
	int stop_line;               /* line the reader refused, 0 if none */
	enum { STOP_NUL, STOP_LONG_LINE, STOP_LONG_SECTION } stop_why;
	char section[INIH_MAX_SECTION]; /* the section of the lines read */
	int handler_rc;              /* first DBR_E* from the handler */
	char **sections;             /* names of sections that have keys */
	size_t n_sections;
	char ignored_key[64];        /* a secret-looking key that was skipped */
	const char *base;            /* the file buffer */
	size_t line_start, line_end; /* bytes of the line inih has now */
	const char *lines_key;          /* the key whose lines token_lines collects */
	struct dbr_config_lines *token_lines; /* where the profile's token lines
						 are, or NULL */
	int secret_line[2];          /* the line of the token / client secret now set */
};

/* Keys whose values are credentials: never kept as strings, never set from
 * the command line. `token` itself is moved into a secret handle. */
static int is_secret_key(const char *key)
{
	static const char *const exact[] = {
		"token", "password", "client_secret", "secret", "access_token",
		"refresh_token", "secret_id", "google_credentials",
	};
	static const char *const suffixes[] = { "_token", "_secret", "_password" };
	size_t n = strlen(key);

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcasecmp(key, exact[i]))
			return 1;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t m = strlen(suffixes[i]);

		if (n > m && !strcasecmp(key + n - m, suffixes[i]))
			return 1;
	}
	return 0;
}

static struct config_entry *find_entry(const struct dbr_config *c, const char *key)
{
	for (size_t i = 0; i < c->n_entries; i++)
		if (!strcasecmp(c->entries[i].key, key))
			return &c->entries[i];
	return NULL;
}

/* Add or replace key (last value wins). Returns 0 or DBR_E_NOMEM. */
static int put_entry(struct dbr_config *c, const char *key, const char *value)
{
	struct config_entry *e = find_entry(c, key);
	char *v = strdup(value), *k;

	if (!v)
		return DBR_E_NOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		return 0;
	}
	if (c->n_entries == c->alloc_entries) {
		size_t n = c->alloc_entries ? c->alloc_entries * 2 : 8;
		struct config_entry *ne = realloc(c->entries, n * sizeof(*ne));

		if (!ne) {
			free(v);
			return DBR_E_NOMEM;
		}
		c->entries = ne;
		c->alloc_entries = n;
	}
	k = strdup(key);
	if (!k) {
		free(v);
		return DBR_E_NOMEM;
	}
	c->entries[c->n_entries].key = k;
	c->entries[c->n_entries].value = v;
	c->n_entries++;
	return 0;
}

static struct dbr_config *config_alloc(const char *path, const char *profile)
{
	struct dbr_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->path = strdup(path);
	c->profile = strdup(profile);
	if (!c->path || !c->profile) {
		dbr_config_free(c);
		return NULL;
	}
	return c;
}

int dbr_config_new_empty(struct dbr_config **out)
{
	if (!out)
		return DBR_E_INVAL;
	*out = config_alloc("", DEFAULT_PROFILE);
	return *out ? 0 : DBR_E_NOMEM;
}

void dbr_config_free(struct dbr_config *c)
{
	if (!c)
		return;
	dbr_secret_free(c->token);
	dbr_secret_free(c->client_secret);
	for (size_t i = 0; i < c->n_entries; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->path);
	free(c->profile);
	free(c);
}

const char *dbr_config_get(const struct dbr_config *c, const char *key)
{
	const struct config_entry *e;

	if (!c || !key || is_secret_key(key))
		return NULL;
	e = find_entry(c, key);
	return e ? e->value : NULL;
}

const char *dbr_config_key_with_prefix(const struct dbr_config *c, const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;

	if (!c || !n)
		return NULL;
	for (size_t i = 0; i < c->n_entries; i++)
		if (!strncasecmp(c->entries[i].key, prefix, n))
			return c->entries[i].key;
	return NULL;
}

int dbr_config_set(struct dbr_config *c, const char *key, const char *value)
{
	if (!c || !key || !*key || !value)
		return DBR_E_INVAL;
	if (is_secret_key(key))
		return DBR_E_SECRET_FLAG;
	if (strpbrk(key, "\r\n") || strpbrk(value, "\r\n"))
		return DBR_E_INVAL;
	return put_entry(c, key, value);
}

const char *dbr_config_path(const struct dbr_config *c)
{
	return c && c->path ? c->path : "";
}

const char *dbr_config_profile(const struct dbr_config *c)
{
	return c && c->profile ? c->profile : DEFAULT_PROFILE;
}

int dbr_config_profile_found(const struct dbr_config *c)
{
	return c ? c->profile_found : 0;
}

int dbr_config_has_token(const struct dbr_config *c)
{
	return c && c->token;
}

int dbr_config_secret_comment_line(const struct dbr_config *c)
{
	return c ? c->secret_comment_line : 0;
}

int dbr_config_emptied_secret_line(const struct dbr_config *c)
{
	return c && !c->token && !c->client_secret ? c->emptied_secret_line : 0;
}

int dbr_config_token_exposed(const struct dbr_config *c)
{
	return c && (c->token || c->client_secret) && c->readable_by_others;
}

int dbr_config_has_client_secret(const struct dbr_config *c)
{
	return c && c->client_secret;
}

static int copy_secret(const struct dbr_secret *s, struct dbr_secret **out)
{
	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	return s ? dbr_secret_dup(s, out) : DBR_E_NOT_HERE;
}

int dbr_config_copy_client_secret(const struct dbr_config *c, struct dbr_secret **out)
{
	return copy_secret(c ? c->client_secret : NULL, out);
}

int dbr_config_copy_token(const struct dbr_config *c, struct dbr_secret **out)
{
	return copy_secret(c ? c->token : NULL, out);
}

/* ---- parsing ---- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int config_handler(void *user, const char *section, const char *name,
			  const char *value);

/* A "name = value" line longer than inih's buffer, handed to the key
 * handler as inih would. The copy is wiped: it may hold a token. Returns
 * 0, or -1 for a syntax error (inih then gets a line it refuses, so the
 * error is reported like any other). */
static int long_line(struct parse_ctx *p, const char *s, size_t len)
{
	char *copy = malloc(len + 1), *name, *value;
	int rc = -1;

	if (!copy) {
		p->handler_rc = DBR_E_NOMEM;
		return 0;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (*copy != '[' && config_split_line(copy, &name, &value) == 0)
		rc = config_handler(p, p->section, name, value) ? 0 : -1;
	explicit_bzero(copy, len + 1);
	free(copy);
	return rc;
}

/* inih's line source (an fgets look-alike over the file buffer).
 * - Indentation is stripped, so inih never takes a line for the
 *   continuation of the previous value.
 * - A line longer than inih's buffer (num, 200 bytes in Debian's libinih)
 *   would be split by inih into two "lines" (a silently cut value, then
 *   junk): such a line is parsed here (long_line) and inih gets an empty
 *   comment in its place; lines over CONFIG_LINE_MAX stop the parse and are
 *   reported.
 * - A NUL byte stops the parse (inih would silently cut the line there).
 * - So does a section name inih would cut (see INIH_MAX_SECTION). */
static char *config_reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	const char *s = p->cur, *nl;
	size_t len;

	if (p->stop_line || s >= p->end || num < 4)
		return NULL;
	nl = memchr(s, '\n', (size_t)(p->end - s));
	len = nl ? (size_t)(nl - s) + 1 : (size_t)(p->end - s);
	p->line_start = (size_t)(s - p->base);
	p->line_end = p->line_start + len;
	p->cur = s + len;
	p->lineno++;
	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	/* inih skips a UTF-8 BOM at the start of the file, then blanks: so
	 * does the section tracking below, or "\xef\xbb\xbf[prod]" would
	 * leave a long line of [prod] to DEFAULT */
	if (p->lineno == 1 && len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
		s += 3;
		len -= 3;
		while (len && is_blank(*s)) {
			s++;
			len--;
		}
	}
	if (memchr(s, '\0', len)) {
		p->stop_line = p->lineno;
		p->stop_why = STOP_NUL;
		return NULL;
	}
	if (len && *s == '[') {
		const char *close = memchr(s, ']', len);

		if (close && (size_t)(close - s - 1) >= INIH_MAX_SECTION) {
			p->stop_line = p->lineno;
			p->stop_why = STOP_LONG_SECTION;
			return NULL;
		}
		/* what inih will call the section: up to the first ']' */
		if (close) {
			memcpy(p->section, s + 1, (size_t)(close - s - 1));
			p->section[close - s - 1] = '\0';
		}
	}
	if (len > (size_t)num - 1) {
		if (len > CONFIG_LINE_MAX) {
			p->stop_line = p->lineno;
			p->stop_why = STOP_LONG_LINE;
			return NULL;
		}
		str[0] = *s == ';' || *s == '#' || long_line(p, s, len) == 0 ? '#' : 'x';
		str[1] = '\n';
		str[2] = '\0';
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	return str;
}

/* Remember that section has keys (for the "no such profile" message). */
static int note_section(struct parse_ctx *p, const char *section)
{
	char **ns, *copy;

	for (size_t i = 0; i < p->n_sections; i++)
		if (!strcmp(p->sections[i], section))
			return 0;
	ns = realloc(p->sections, (p->n_sections + 1) * sizeof(*ns));
	if (!ns)
		return DBR_E_NOMEM;
	p->sections = ns;
	copy = strdup(section);
	if (!copy)
		return DBR_E_NOMEM;
	/* names only, and printable: they end up in a message */
	for (char *q = copy; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	p->sections[p->n_sections++] = copy;
	return 0;
}

/* Remember the line [start, end) (a UTF-8 BOM at the start of the file is
 * not part of the first line: it stays). Returns 0 or DBR_E_NOMEM. */
static int lines_add(struct dbr_config_lines *l, size_t start, size_t end)
{
	if (l->n == l->alloc) {
		size_t n = l->alloc ? l->alloc * 2 : 4;
		struct dbr_config_range *r = realloc(l->r, n * sizeof(*r));

		if (!r)
			return DBR_E_NOMEM;
		l->r = r;
		l->alloc = n;
	}
	l->r[l->n].start = start;
	l->r[l->n].end = end;
	l->n++;
	return 0;
}

/* One key of one section (name without quotes). value points into inih's
 * line buffer. Returns 1 to go on, 0 for "error on this line". */
static int handle_key(struct parse_ctx *p, const char *section, const char *name,
		      const char *value)
{
	struct dbr_config *c = p->cfg;
	const char *v;
	size_t vlen;
	char *plain;
	int rc;

	if (p->handler_rc)
		return 1;
	config_unquote(value, &v, &vlen);
	if (!*name)
		return 0; /* "= value": a syntax error on this line */
	if (!*section)
		section = DEFAULT_PROFILE;
	rc = note_section(p, section);
	if (rc)
		goto fail;
	if (strcmp(section, c->profile))
		return 1; /* another profile: nothing of it is copied */
	c->profile_found = 1;
	if (!strcasecmp(name, "token") || !strcasecmp(name, "client_secret")) {
		struct dbr_secret **dst = !strcasecmp(name, "token") ? &c->token
								     : &c->client_secret;

		/* the byte ranges of token lines, for --remove-plaintext */
		if (p->token_lines && !strcasecmp(name, p->lines_key) &&
		    (rc = lines_add(p->token_lines, p->line_start, p->line_end)))
			goto fail;
		int *line = &p->secret_line[dst == &c->client_secret];

		/* last one wins; an empty value means "none", leaving the one
		 * it cancels on disk all the same */
		if (*dst && !vlen && !c->emptied_secret_line)
			c->emptied_secret_line = *line;
		dbr_secret_free(*dst);
		*dst = NULL;
		if (vlen) {
			rc = dbr_secret_new(v, vlen, dst);
			if (rc)
				goto fail;
			*line = p->lineno;
		}
		return 1;
	}
	if (is_secret_key(name)) {
		if (!p->ignored_key[0])
			snprintf(p->ignored_key, sizeof(p->ignored_key), "%s", name);
		return 1;
	}
	plain = strndup(v, vlen);
	rc = plain ? put_entry(c, name, plain) : DBR_E_NOMEM;
	free(plain);
	if (rc)
		goto fail;
	return 1;
fail:
	p->handler_rc = rc;
	return 0;
}

/* inih's callback. A key in double quotes ("token" = ...) is that key, as
 * the Go SDK reads it: left quoted, a token or secret under it would be
 * kept as a plain string, unwarned, and no edit would remove it. */
static int config_handler(void *user, const char *section, const char *name,
			  const char *value)
{
	struct parse_ctx *p = user;
	const char *k;
	size_t klen;
	char *key;
	int r;

	config_unquote(name, &k, &klen);
	if (k == name)
		return handle_key(p, section, name, value);
	key = strndup(k, klen);
	if (!key) {
		if (!p->handler_rc)
			p->handler_rc = DBR_E_NOMEM;
		return 0;
	}
	r = handle_key(p, section, key, value);
	free(key);
	return r;
}

/* inih keeps the current line in a buffer on its own stack frame (a VLA of
 * ini_max_line bytes in ini_parse_stream) and returns without clearing it, so
 * the last lines read -- maybe "token = dapi..." -- stay in dead stack memory
 * until something overwrites them. Vector registers that held token bytes
 * (strlen, memcpy) can also be spilled below that frame: the dynamic
 * linker's lazy-binding trampoline saves them all with xsave, several KiB
 * deep, on a first call through the PLT (seen in testing when built without
 * -z now). Called right after the parse from the same frame, this function's
 * array covers the addresses those frames used; noinline keeps the array out
 * of the caller's frame, explicit_bzero keeps the stores from being optimised
 * away. 16 KiB is a wide margin over what the parse uses. */
static __attribute__((noinline)) void scrub_parser_stack(void)
{
	unsigned char pad[16384];

	explicit_bzero(pad, sizeof(pad));
	__asm__ __volatile__("" : : "r"(pad) : "memory");
}

/* Parse buf into c. Returns 0, DBR_E_CONFIG (message names path and line)
 * or DBR_E_NOMEM. */
static int parse_config(struct dbr_config *c, const struct dbr_buf *buf,
			struct parse_ctx *p, struct dbr_err *err)
{
	int line;

	p->cfg = c;
	p->cur = buf->data ? buf->data : "";
	p->base = p->cur;
	p->end = p->cur + buf->len;
	line = ini_parse_stream(config_reader, p, config_handler, p);
	scrub_parser_stack();
	if (p->handler_rc)
		return dbr_err_set(err, p->handler_rc, "cannot load '%s': %s", c->path,
				   dbr_strerror(p->handler_rc));
	if (line < 0)
		return dbr_err_set(err, DBR_E_NOMEM, "cannot parse '%s': out of memory",
				   c->path);
	if (line > 0 && (!p->stop_line || line < p->stop_line))
		return dbr_err_set(err, DBR_E_CONFIG,
				   "'%s' line %d: syntax error (expected '[profile]', "
				   "'key = value' or a comment): fix or remove that line",
				   c->path, line);
	if (p->stop_line && p->stop_why == STOP_LONG_LINE)
		return dbr_err_set(err, DBR_E_CONFIG, "'%s' line %d is too long (the limit is "
				   "%d bytes): shorten or remove that line", c->path,
				   p->stop_line, CONFIG_LINE_MAX);
	if (p->stop_line && p->stop_why == STOP_LONG_SECTION)
		return dbr_err_set(err, DBR_E_CONFIG, "'%s' line %d: the profile name is longer "
				   "than %d bytes: shorten it", c->path, p->stop_line,
				   INIH_MAX_SECTION - 1);
	if (p->stop_line)
		return dbr_err_set(err, DBR_E_CONFIG, "'%s' line %d contains a NUL byte: is it "
				   "a text file? fix or remove that line", c->path, p->stop_line);
	return 0;
}

/* DBR_E_NO_PROFILE for a profile the file does not have, listing the ones it
 * has (names only). */
static int no_profile_error(const struct dbr_config *c, const struct parse_ctx *p,
			    struct dbr_err *err)
{
	struct dbr_buf names = DBR_BUF_INIT(DBR_ERR_MSG_MAX);
	int rc;

	for (size_t i = 0; i < p->n_sections && i < MAX_LISTED_PROFILES; i++)
		dbr_buf_addf(&names, "%s'%s'", i ? ", " : "", p->sections[i]);
	if (p->n_sections > MAX_LISTED_PROFILES)
		dbr_buf_addstr(&names, ", ...");
	if (p->n_sections)
		rc = dbr_err_set(err, DBR_E_NO_PROFILE,
				 "'%s' has no '%s' profile configured: choose one of %s with "
				 "--profile or DATABRICKS_CONFIG_PROFILE, or add a [%s] section",
				 c->path, c->profile, names.data ? names.data : "", c->profile);
	else
		rc = dbr_err_set(err, DBR_E_NO_PROFILE,
				 "'%s' has no '%s' profile configured (it has no profiles at "
				 "all): add a [%s] section with its host", c->path, c->profile,
				 c->profile);
	dbr_buf_release(&names);
	return rc;
}

static void warn_about_secrets(const struct dbr_config *c, const struct parse_ctx *p,
			       struct dbr_log *log)
{
	if (!log)
		return;
	if (c->token && c->readable_by_others)
		dbr_log_warn(log, "profile '%s' in '%s' holds a plaintext token and the file "
			     "is readable by group or others: run 'chmod 600 %s', then move "
			     "the token to the keyring with 'dbroker login -p %s'",
			     c->profile, c->path, c->path, c->profile);
	else if (c->token)
		dbr_log_warn(log, "profile '%s' in '%s' holds a plaintext token on disk: "
			     "move it to the keyring with 'dbroker login -p %s' and delete "
			     "the 'token' line", c->profile, c->path, c->profile);
	if (c->client_secret)
		dbr_log_warn(log, "profile '%s' in '%s' holds a plaintext OAuth client secret on "
			     "disk%s: move it to the keyring with 'dbroker -p %s login --oauth-m2m "
			     "--client-id %s --remove-plaintext'", c->profile, c->path,
			     c->readable_by_others ? " and the file is readable by group or "
			     "others" : "", c->profile, dbr_oauth_client_id_arg(dbr_config_get(c, "client_id")));
	if (p->ignored_key[0])
		dbr_log_warn(log, "profile '%s' in '%s' holds a plaintext '%s', which dbroker "
			     "does not use: remove it from the file", c->profile, c->path,
			     p->ignored_key);
	if (c->secret_comment_line)
		dbr_log_warn(log, "'%s' line %d, a comment, holds something shaped like a token "
			     "or secret: a plaintext secret on disk all the same; delete that "
			     "line, and revoke the token if it was ever valid", c->path,
			     c->secret_comment_line);
	if (dbr_config_emptied_secret_line(c))
		dbr_log_warn(log, "'%s' line %d holds a plaintext token or secret that a later "
			     "empty line of profile '%s' cancels: unused, but on disk all the "
			     "same; delete that line, and revoke the token if it was ever valid",
			     c->path, c->emptied_secret_line, c->profile);
}

int dbr_config_load(const char *path, const char *profile, struct dbr_log *log,
		    struct dbr_config **out, struct dbr_err *err)
{
	struct dbr_buf buf = DBR_BUF_INIT_WIPE((size_t)DBR_CONFIG_MAX_BYTES + 1);
	struct parse_ctx p;
	struct dbr_config *c = NULL;
	const char *envp = getenv("DATABRICKS_CONFIG_PROFILE");
	char *file = NULL;
	int explicit_profile = 1, rc;

	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "dbr_config_load: out is NULL");
	*out = NULL;
	memset(&p, 0, sizeof(p));
	if (profile && !*profile)
		return dbr_err_set(err, DBR_E_INVAL, "the profile name is empty: "
				   "name a profile or leave the option out");
	if (!profile && envp && *envp)
		profile = envp;
	if (!profile) {
		profile = DEFAULT_PROFILE;
		explicit_profile = 0;
	}
	rc = dbr_config_resolve_path(path, &file, err);
	if (rc)
		return rc == DBR_E_NOMEM ? dbr_err_set(err, rc, "out of memory") : rc;
	c = config_alloc(file, profile);
	free(file);
	if (!c)
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");

	rc = dbr_config_read_file(c->path, &buf, &c->readable_by_others, err);
	if (rc == 1) {
		rc = 0;
		if (explicit_profile)
			rc = dbr_err_set(err, DBR_E_NO_PROFILE,
					 "'%s' has no '%s' profile configured: the file does not "
					 "exist; create it with a [%s] section, or set "
					 "DATABRICKS_CONFIG_FILE to your configuration file",
					 c->path, c->profile, c->profile);
		goto done;
	}
	if (rc)
		goto done;
	rc = parse_config(c, &buf, &p, err);
	if (rc == 0)
		c->secret_comment_line = config_secret_comment_line(buf.data, buf.len);
	dbr_buf_release(&buf); /* wipes the file's bytes */
	if (rc)
		goto done;
	if (!c->profile_found && explicit_profile) {
		rc = no_profile_error(c, &p, err);
		goto done;
	}
	warn_about_secrets(c, &p, log);
done:
	dbr_buf_release(&buf);
	for (size_t i = 0; i < p.n_sections; i++)
		free(p.sections[i]);
	free(p.sections);
	if (rc) {
		dbr_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int dbr_config_token_lines(const char *path, const char *profile, const char *key,
			   const struct dbr_buf *buf, struct dbr_config_lines *lines,
			   struct dbr_err *err)
{
	struct parse_ctx p;
	struct dbr_config *c = config_alloc(path, profile);
	int rc;

	memset(&p, 0, sizeof(p));
	if (!c)
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	p.token_lines = lines;
	p.lines_key = key;
	rc = parse_config(c, buf, &p, err);
	/* inih strips a BOM from the first line: the BOM is not the line's */
	for (size_t i = 0; rc == 0 && i < lines->n; i++)
		if (lines->r[i].start == 0 && buf->len >= 3 && !memcmp(buf->data, "\xef\xbb\xbf", 3))
			lines->r[i].start = 3;
	for (size_t i = 0; i < p.n_sections; i++)
		free(p.sections[i]);
	free(p.sections);
	dbr_config_free(c);
	return rc;
}
