/* Small argument helpers shared by the commands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

int cli_take_value(int argc, char **argv, int *i, const char *shortopt,
		   const char *longopt, const char **out, int *missing)
{
	const char *a = argv[*i], *value;
	size_t n = strlen(longopt);
	int separate = (shortopt && strcmp(a, shortopt) == 0) || strcmp(a, longopt) == 0;

	if (!separate && !(strncmp(a, longopt, n) == 0 && a[n] == '='))
		return 0;
	if (separate && *i + 1 >= argc) {
		*missing = CLI_OPTION_NO_VALUE;
		return 1;
	}
	value = separate ? argv[*i + 1] : a + n + 1;
	/* a second, different value would silently replace the first (the
	 * same one again, as an alias adds it, loses nothing) */
	if (*out && strcmp(*out, value) != 0) {
		*missing = CLI_OPTION_TWICE;
		return 1;
	}
	*i += separate;
	*out = value;
	return 1;
}

int cli_option_error(const char *arg, int missing, struct dbr_err *err)
{
	/* the option's name only: a value after '=' is not echoed */
	int n = (int)strcspn(arg, "=");

	if (missing == CLI_OPTION_TWICE)
		return dbr_err_set(err, DBR_E_USAGE, "option '%.*s' is given twice, with different "
				   "values: give it once", n, arg);
	return dbr_err_set(err, DBR_E_USAGE, "option '%.*s' needs a value", n, arg);
}

int cli_option_fail(struct cli *cli, const char *arg, int missing)
{
	struct dbr_err err = DBR_ERR_INIT;
	int rc = cli_option_error(arg, missing, &err);

	return cli_fail(cli, rc, err.msg);
}

/* The edit distance of a and b (insertions, deletions, substitutions), or
 * 3 when it is at least 3 or the words are too long to matter. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

const char *cli_suggest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t dbest = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, names[i]);

		/* "ls" is 2 from "list" but also from "get": only clear typos */
		if (d < dbest && d < strlen(word)) {
			dbest = d;
			best = names[i];
		}
	}
	return best;
}

int cli_run_subcommand(struct cli *cli, int argc, char **argv,
		       const struct cli_subcommand *subs, size_t n, const char *usage)
{
	const char *names[16], *near;
	char hint[96] = "";

	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(cli, argc - 1, argv + 1);
	for (size_t i = 0; i < n && i < sizeof(names) / sizeof(names[0]); i++)
		names[i] = subs[i].name;
	near = cli_suggest(argv[1], names, n < 16 ? n : 16);
	if (near)
		snprintf(hint, sizeof(hint), ": did you mean '%s %s'?", argv[0], near);
	return cli_failf(cli, DBR_E_USAGE, "unknown subcommand '%s %s'%s (see 'dbroker %s --help')",
			 argv[0], argv[1], hint, argv[0]);
}

/* One "<number>[.<fraction>]<unit>" term of a duration at *p, advanced
 * past it, in milliseconds. Returns 0 or DBR_E_INVAL. */
static int duration_term(const char **p, long *ms)
{
	static const struct { const char *unit; long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
		{ "d", 24L * 3600 * 1000 }, /* token lifetimes: --lifetime 90d */
	};
	const char *s = *p;
	long whole = 0, frac = 0, scale = 1;
	size_t u;

	if ((*s < '0' || *s > '9') && !(*s == '.' && s[1] >= '0' && s[1] <= '9'))
		return DBR_E_INVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (whole > (LONG_MAX - 9) / 10)
			return DBR_E_INVAL;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (scale < 1000000) {
				frac = frac * 10 + (*s - '0');
				scale *= 10;
			}
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t n = strlen(units[u].unit);

		/* "m" must not take the "m" of "ms" */
		if (strncmp(s, units[u].unit, n) == 0 && !(n == 1 && s[0] == 'm' && s[1] == 's'))
			break;
	}
	if (u == sizeof(units) / sizeof(units[0]))
		return DBR_E_INVAL;
	if (whole > LONG_MAX / units[u].ms)
		return DBR_E_INVAL;
	*ms = whole * units[u].ms + frac * units[u].ms / scale;
	*p = s + strlen(units[u].unit);
	return 0;
}

int cli_parse_duration_ms(const char *s, long *out)
{
	long total = 0, ms;
	const char *p = s;

	if (!s || !*s)
		return DBR_E_INVAL;
	/* a bare whole number is seconds */
	if (strspn(s, "0123456789") == strlen(s)) {
		char *end;

		errno = 0;
		ms = strtol(s, &end, 10);
		if (errno || ms > LONG_MAX / 1000)
			return DBR_E_INVAL;
		*out = ms * 1000;
		return 0;
	}
	/* as the official CLI (Go's time.ParseDuration): 90s, 20m, 1h30m, 1.5h */
	while (*p) {
		if (duration_term(&p, &ms) || ms > LONG_MAX - total)
			return DBR_E_INVAL;
		total += ms;
	}
	*out = total;
	return 0;
}

int cli_parse_timeout_ms(const char *s, long *out)
{
	long ms = 0;

	if (cli_parse_duration_ms(s, &ms) || ms <= 0 || ms > CLI_TIMEOUT_MAX_MS)
		return DBR_E_INVAL;
	*out = ms;
	return 0;
}

int cli_parse_int(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return DBR_E_INVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < INT_MIN || v > INT_MAX)
		return DBR_E_INVAL;
	*out = (int)v;
	return 0;
}

/* Read all of fd up to max bytes. */
static int read_fd(int fd, size_t max, char **out, size_t *len, struct dbr_err *err,
		   const char *what)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap + 1);

	if (!p)
		return DBR_E_NOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *q;

			if (cap >= max) {
				free(p);
				return dbr_err_set(err, DBR_E_USAGE, "'%s' is larger than %zu "
						   "bytes, more than any request needs: check that "
						   "it is the JSON you meant", what, max);
			}
			cap = cap * 2 > max ? max : cap * 2;
			q = realloc(p, cap + 1);
			if (!q) {
				free(p);
				return DBR_E_NOMEM;
			}
			p = q;
		}
		r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(p);
			return dbr_err_set(err, DBR_E_IO, "cannot read %s: %s", what, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	return 0;
}

int cli_read_json_arg(const char *arg, size_t max, char **out, size_t *len,
		      const char **origin, struct dbr_err *err)
{
	struct stat st;
	int fd, rc;

	*out = NULL;
	*len = 0;
	if (strcmp(arg, "-") == 0 || strcmp(arg, "@-") == 0) {
		*origin = "stdin";
		/* else a silent wait that looks like a hang */
		if (isatty(STDIN_FILENO))
			fputs("dbroker: reading the JSON from the terminal: type or paste it, then "
			      "press Ctrl-D on a line of its own\n", stderr);
		return read_fd(STDIN_FILENO, max, out, len, err, "stdin");
	}
	if (arg[0] == '@') {
		*origin = arg + 1;
		fd = open(arg + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return dbr_err_set(err, DBR_E_USAGE, "cannot open '%s': %s: check the "
					   "path after '@' (or give '-' for stdin, or the JSON "
					   "itself)", arg + 1, strerror(errno));
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return dbr_err_set(err, DBR_E_USAGE, "'%s' is a directory: give the path "
					   "of the JSON file after '@'", arg + 1);
		}
		rc = read_fd(fd, max, out, len, err, arg + 1);
		close(fd);
		return rc;
	}
	*origin = "--json";
	*len = strlen(arg);
	if (*len > max)
		return dbr_err_set(err, DBR_E_USAGE, "--json is larger than %zu bytes, more "
				   "than any request needs: check that it is the JSON you meant",
				   max);
	*out = strdup(arg);
	return *out ? 0 : DBR_E_NOMEM;
}
