/* Fuzz target: ~/.databrickscfg loading (dbr_config_load).
 *
 * Input layout:
 *   byte 0      bits 0-1: profile argument: NULL (implicit DEFAULT),
 *               "DEFAULT", "dev", or a name read from the input (a length
 *               byte, then up to 63 bytes, cut at a NUL); bit 2: file mode
 *               0644 instead of 0600 (readable by others: the "exposed"
 *               warning)
 *   the rest    the file's bytes
 *
 * The file is written to a private directory (mkdtemp, 0700) made once.
 *
 * Differential oracle for "a token never leaks": the harness finds the
 * values of credential-looking keys the way inih sees lines (token,
 * password, *_token, *_secret, ...: the list of src/config.c) and writes a
 * twin file in which every letter and digit of those values is rotated
 * (same length, same punctuation and blanks, so the same parse). Both files
 * are loaded with a log that writes to a memfd. Properties (abort on
 * violation):
 *   C1  same return code, same error message, same log output (warnings)
 *       for both files: nothing a user sees depends on a credential's
 *       value;
 *   C2  same profile_found / has_token / token_exposed; when there is a
 *       token, both tokens have the same length;
 *   C3  dbr_config_get of every key named in the file, and of "token", gives
 *       the same answer for both files, and NULL for credential keys;
 *   C4  the error message is NUL-terminated; on failure no config is
 *       returned; on success dbr_config_path is the path given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbroker/config.h"
#include "dbroker/errors.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/secret.h"
#include "fuzz_common.h"

static char g_path[256];
static struct dbr_mask *g_mask;

/* Same list as is_secret_key() in src/config.c (config.h names only some). */
static int secret_key(const char *k, size_t n)
{
	static const char *const exact[] = {
		"token", "password", "client_secret", "secret", "access_token",
		"refresh_token", "secret_id", "google_credentials",
	};
	static const char *const suffixes[] = { "_token", "_secret", "_password" };

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == n && !strncasecmp(k, exact[i], n))
			return 1;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t m = strlen(suffixes[i]);

		if (n > m && !strncasecmp(k + n - m, suffixes[i], m))
			return 1;
	}
	return 0;
}

static int space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static unsigned char rot(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return (unsigned char)('a' + (c - 'a' + 7) % 26);
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)('A' + (c - 'A' + 7) % 26);
	if (c >= '0' && c <= '9')
		return (unsigned char)('0' + (c - '0' + 3) % 10);
	return c;
}

/* Key names of the file (for C3), NUL-separated into keys. */
struct keys {
	char name[64][64];
	size_t n;
};

/* Write the twin of f into twin (same length); collect key names. Lines
 * as src/config.c hands them to inih: split at '\n', leading blanks
 * dropped; the first line may start with a UTF-8 BOM. */
static void make_twin(const unsigned char *f, size_t n, unsigned char *twin, struct keys *ks)
{
	size_t i = 0;
	int first = 1;

	memcpy(twin, f, n);
	ks->n = 0;
	while (i < n) {
		const unsigned char *nl = memchr(f + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - f) : n, s = i, d, ke;
		int was_space = 0;

		while (s < end && space(f[s]))
			s++;
		if (first && end - s >= 3 && f[s] == 0xEF && f[s + 1] == 0xBB && f[s + 2] == 0xBF) {
			s += 3;
			while (s < end && space(f[s]))
				s++;
		}
		first = 0;
		if (s == end || f[s] == ';' || f[s] == '#' || f[s] == '[' ||
		    memchr(f + s, '\0', end - s))
			goto next;
		/* inih: the name runs to '=' or ':' or an inline ';' after a blank */
		for (d = s; d < end; d++) {
			if (f[d] == '=' || f[d] == ':')
				break;
			if (f[d] == ';' && was_space)
				break;
			was_space = space(f[d]);
		}
		if (d == end || f[d] == ';')
			goto next;
		ke = d;
		while (ke > s && space(f[ke - 1]))
			ke--;
		if (ke > s && ke - s < 64 && ks->n < 64) {
			memcpy(ks->name[ks->n], f + s, ke - s);
			ks->name[ks->n][ke - s] = '\0';
			ks->n++;
		}
		if (secret_key((const char *)f + s, ke - s))
			for (size_t k = d + 1; k < end; k++)
				twin[k] = rot(f[k]);
next:
		i = end + 1;
	}
}

static void write_file(const unsigned char *p, size_t n, mode_t mode)
{
	int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 || fchmod(fd, mode) != 0) {
		perror("fuzz_config: open/fchmod");
		abort();
	}
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("fuzz_config: write");
			abort();
		}
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

struct result {
	int rc;
	struct dbr_err err;
	char *log;
	size_t loglen;
	struct dbr_config *cfg;
};

static void load(const char *profile, struct result *r)
{
	struct dbr_log *log = NULL;
	int fd = memfd_create("fuzz_config_log", MFD_CLOEXEC);
	off_t end;

	if (fd < 0 || dbr_log_new(g_mask, &log) != 0 || dbr_log_add_fd(log, fd) != 0)
		abort();
	dbr_log_set_level(log, DBR_LOG_TRACE);
	memset(&r->err, 0, sizeof(r->err));
	r->cfg = (struct dbr_config *)1;
	r->rc = dbr_config_load(g_path, profile, log, &r->cfg, &r->err);
	dbr_log_free(log);
	end = lseek(fd, 0, SEEK_END);
	r->loglen = end > 0 ? (size_t)end : 0;
	r->log = malloc(r->loglen + 1);
	if (!r->log || pread(fd, r->log, r->loglen, 0) != (ssize_t)r->loglen)
		abort();
	r->log[r->loglen] = '\0';
	close(fd);
	if (strnlen(r->err.msg, sizeof(r->err.msg)) == sizeof(r->err.msg))
		fuzz_fail("C4: error message not NUL-terminated");
	if (r->rc && r->cfg)
		fuzz_fail("C4: dbr_config_load failed (%d) but returned a config", r->rc);
	if (!r->rc && (!r->cfg || strcmp(dbr_config_path(r->cfg), g_path) != 0))
		fuzz_fail("C4: success without a config or with another path");
}

static char g_dir[64];

/* Remove the file and the private directory at exit (libFuzzer exits
 * normally at -max_total_time / -runs; after a crash they stay). */
static void cleanup(void)
{
	unlink(g_path);
	rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/dbr-fuzz-config-XXXXXX";

	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	unsetenv("DATABRICKS_CONFIG_FILE");
	if (!mkdtemp(dir)) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(g_path, sizeof(g_path), "%s/databrickscfg", dir);
	snprintf(g_dir, sizeof(g_dir), "%s", dir);
	atexit(cleanup);
	if (dbr_mask_new(&g_mask) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct result a, b;
	struct keys ks;
	char name[64];
	const char *profile = NULL;
	unsigned char *twin;
	uint8_t b0;
	mode_t mode;

	if (!fuzz_byte(&in, &b0))
		return 0;
	switch (b0 & 3) {
	case 0: profile = NULL; break;
	case 1: profile = "DEFAULT"; break;
	case 2: profile = "dev"; break;
	default: {
		size_t n = fuzz_byte_or(&in, 0) % 64;

		if (n > in.n)
			n = in.n;
		memcpy(name, in.p, n);
		name[n] = '\0';
		in.p += n;
		in.n -= n;
		profile = name;
	}
	}
	mode = b0 & 4 ? 0644 : 0600;
	if (in.n > DBR_CONFIG_MAX_BYTES)
		return 0;
	twin = malloc(in.n ? in.n : 1);
	if (!twin)
		abort();
	make_twin(in.p, in.n, twin, &ks);

	write_file(in.p, in.n, mode);
	load(profile, &a);
	if (in.n && memcmp(twin, in.p, in.n) == 0) {
		/* no credential value in the file: nothing to compare */
		dbr_config_free(a.cfg);
		free(a.log);
		free(twin);
		return 0;
	}
	write_file(twin, in.n, mode);
	load(profile, &b);

	if (a.rc != b.rc || strcmp(a.err.msg, b.err.msg) != 0)
		fuzz_fail("C1: result depends on a credential value: %d \"%s\" vs %d \"%s\"",
			  a.rc, a.err.msg, b.rc, b.err.msg);
	if (a.loglen != b.loglen || memcmp(a.log, b.log, a.loglen) != 0)
		fuzz_fail("C1: log output depends on a credential value:\n%s---\n%s", a.log,
			  b.log);
	if (!a.rc) {
		struct dbr_secret *ta = NULL, *tb = NULL;

		if (dbr_config_profile_found(a.cfg) != dbr_config_profile_found(b.cfg) ||
		    dbr_config_has_token(a.cfg) != dbr_config_has_token(b.cfg) ||
		    dbr_config_token_exposed(a.cfg) != dbr_config_token_exposed(b.cfg))
			fuzz_fail("C2: profile_found/has_token/token_exposed differ");
		if (dbr_config_has_token(a.cfg)) {
			if (dbr_config_copy_token(a.cfg, &ta) || dbr_config_copy_token(b.cfg, &tb))
				fuzz_fail("C2: has_token but copy_token failed");
			if (dbr_secret_len(ta) != dbr_secret_len(tb))
				fuzz_fail("C2: token lengths differ: %zu vs %zu", dbr_secret_len(ta),
					  dbr_secret_len(tb));
			dbr_secret_free(ta);
			dbr_secret_free(tb);
		}
		if (dbr_config_get(a.cfg, "token") || dbr_config_get(b.cfg, "token"))
			fuzz_fail("C3: dbr_config_get returned the token");
		for (size_t i = 0; i < ks.n; i++) {
			const char *va = dbr_config_get(a.cfg, ks.name[i]);
			const char *vb = dbr_config_get(b.cfg, ks.name[i]);

			if ((va == NULL) != (vb == NULL) || (va && strcmp(va, vb) != 0))
				fuzz_fail("C3: value of key '%s' depends on a credential value: "
					  "\"%s\" vs \"%s\"", ks.name[i], va ? va : "(null)",
					  vb ? vb : "(null)");
			if (va && secret_key(ks.name[i], strlen(ks.name[i])))
				fuzz_fail("C3: dbr_config_get returned credential key '%s'",
					  ks.name[i]);
		}
	}
	dbr_config_free(a.cfg);
	dbr_config_free(b.cfg);
	free(a.log);
	free(b.log);
	free(twin);
	return 0;
}
