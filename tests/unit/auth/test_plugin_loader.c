/* Provider plugins: descriptor validation, loading, and the safe-path walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/provider.h"
#include "dbroker/secret.h"
#include "plugin_loader.h"
#include "../../plugins/testplugin.h"

/* snprintf that fails the test instead of truncating. */
static void fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vsnprintf(buf, n, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < n);
}

/* A stand-in for the chain's per-provider context: just enough to see what
 * a plugin's resolve() hands back. */
struct dbr_host {
	char url[128];
	struct dbr_secret *token;
	char reason[256];
};

static int fake_set_host_url(struct dbr_host *h, const char *url)
{
	snprintf(h->url, sizeof(h->url), "%s", url);
	return 0;
}

static int fake_set_token(struct dbr_host *h, struct dbr_secret *token)
{
	dbr_secret_free(h->token);
	h->token = token;
	return 0;
}

static void fake_set_reason(struct dbr_host *h, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(h->reason, sizeof(h->reason), format, ap);
	va_end(ap);
}

static const struct dbr_host_services fake_services = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_host_services),
	.secret_new = dbr_secret_new,
	.secret_alloc = dbr_secret_alloc,
	.secret_append = dbr_secret_append,
	.secret_trim = dbr_secret_trim,
	.secret_len = dbr_secret_len,
	.secret_free = dbr_secret_free,
	.set_host_url = fake_set_host_url,
	.set_token = fake_set_token,
	.set_reason = fake_set_reason,
};

struct fx {
	char tmp[PATH_MAX];   /* a fresh directory for this test, or "" */
	char extra[PATH_MAX]; /* another one (in /tmp), or "" */
	struct dbr_err err;
};

static const char *plugin_dir(void)
{
	const char *d = getenv("DBR_TEST_PLUGIN_DIR");

	assert_non_null(d);
	return d;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	*state = f;
	return 0;
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 32];

	if (!dir[0])
		return;
	fmt(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", dir, dir);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rm_rf(f->tmp);
	rm_rf(f->extra);
	free(f);
	return 0;
}

static void assert_msg_has(const struct fx *f, const char *needle)
{
	if (!strstr(f->err.msg, needle))
		fail_msg("message '%s' lacks '%s'", f->err.msg, needle);
}

/* Load name from dir, expecting code; returns the descriptor (NULL unless 0). */
static const struct dbr_provider *load(struct fx *f, const char *dir, const char *name,
				       int code)
{
	const struct dbr_provider *p = (const struct dbr_provider *)&f->err;

	dbr_err_clear(&f->err);
	assert_int_equal(dbr_plugin_load(dir, name, &p, &f->err), code);
	if (code) {
		assert_null(p);
		assert_int_equal(f->err.code, code);
	} else {
		assert_non_null(p);
	}
	return p;
}

/* A fresh directory under the build tree (mode 0755), in buf. */
static void make_build_tmp(char *buf, size_t n)
{
	const char *bin = getenv("DBR_BINARY_DIR");

	assert_non_null(bin);
	fmt(buf, n, "%s/tests/plugtmp-XXXXXX", bin);
	assert_non_null(mkdtemp(buf));
	assert_int_equal(chmod(buf, 0755), 0);
}

/* Copy DBR_TEST_PLUGIN_DIR/<name>.so to dir/<name>.so with mode. */
static void copy_plugin(const char *name, const char *dir, mode_t mode)
{
	char from[PATH_MAX], to[PATH_MAX], buf[8192];
	int in, out;
	ssize_t n;

	fmt(from, sizeof(from), "%s/%s.so", plugin_dir(), name);
	fmt(to, sizeof(to), "%s/%s.so", dir, name);
	in = open(from, O_RDONLY);
	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	assert_int_equal(fchmod(out, mode), 0);
	close(in);
	close(out);
}

static void test_name_valid(void **state)
{
	char long_name[40];

	(void)state;
	assert_int_equal(dbr_provider_name_valid("vault"), 1);
	assert_int_equal(dbr_provider_name_valid("a_1"), 1);
	assert_int_equal(dbr_provider_name_valid(""), 0);
	assert_int_equal(dbr_provider_name_valid(NULL), 0);
	assert_int_equal(dbr_provider_name_valid("A"), 0);
	assert_int_equal(dbr_provider_name_valid("../x"), 0);
	assert_int_equal(dbr_provider_name_valid("a-b"), 0);
	memset(long_name, 'a', 32);
	long_name[32] = '\0';
	assert_int_equal(dbr_provider_name_valid(long_name), 1);
	long_name[32] = 'a';
	long_name[33] = '\0';
	assert_int_equal(dbr_provider_name_valid(long_name), 0);
}

static int ok_init(const struct dbr_host_services *svc, struct dbr_host *h, void **st)
{
	(void)svc;
	(void)h;
	*st = NULL;
	return 0;
}

static int ok_resolve(void *st, struct dbr_host *h)
{
	(void)st;
	(void)h;
	return DBR_E_NOT_HERE;
}

static void test_validate(void **state)
{
	struct fx *f = *state;
	struct dbr_provider p = {
		.abi_major = DBR_PROVIDER_ABI_MAJOR,
		.abi_minor = DBR_PROVIDER_ABI_MINOR,
		.struct_size = sizeof(struct dbr_provider),
		.name = "builtin_ok",
		.init = ok_init,
		.resolve = ok_resolve,
	};
	struct dbr_provider q;
	char want[64];

	assert_int_equal(dbr_provider_validate(&p, "built-in", &f->err), 0);
	assert_int_equal(dbr_provider_validate(NULL, "built-in", &f->err), DBR_E_PLUGIN);

	q = p;
	q.abi_major = DBR_PROVIDER_ABI_MAJOR + 1;
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN_ABI);
	fmt(want, sizeof(want), "%d.%d", DBR_PROVIDER_ABI_MAJOR + 1, DBR_PROVIDER_ABI_MINOR);
	assert_msg_has(f, want);
	assert_msg_has(f, "upgrade dbroker");
	q = p;
	q.abi_major = 0;
	assert_int_equal(dbr_provider_validate(&q, NULL, &f->err), DBR_E_PLUGIN_ABI);

	q = p;
	q.struct_size = offsetof(struct dbr_provider, fini);
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	assert_msg_has(f, "descriptor");
	/* an older-minor-sized struct that still has every field up to fini */
	q.struct_size = offsetof(struct dbr_provider, fini) + sizeof(q.fini);
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), 0);

	q = p;
	q.name = "Bad";
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	q.name = "";
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	q.name = NULL;
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);

	q = p;
	q.init = NULL;
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	assert_msg_has(f, "no init");
	q = p;
	q.resolve = NULL;
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	assert_msg_has(f, "no resolve");
	q = p;
	q.reserved[3] = &q;
	assert_int_equal(dbr_provider_validate(&q, "built-in", &f->err), DBR_E_PLUGIN);
	assert_msg_has(f, "reserved");
}

static void test_load_testok_and_resolve(void **state)
{
	struct fx *f = *state;
	struct dbr_host host;
	const struct dbr_provider *p, *again;
	void *st = NULL;

	memset(&host, 0, sizeof(host));
	p = load(f, plugin_dir(), "testok", 0);
	assert_string_equal(p->name, "testok");
	assert_int_equal(p->abi_major, DBR_PROVIDER_ABI_MAJOR);
	assert_int_equal(p->init(&fake_services, &host, &st), 0);
	assert_int_equal(p->resolve(st, &host), 0);
	assert_string_equal(host.url, TESTOK_HOST);
	assert_non_null(host.token);
	assert_true(dbr_secret_equal_bytes(host.token, TESTOK_TOKEN, strlen(TESTOK_TOKEN)));
	if (p->fini)
		p->fini(st);
	dbr_secret_free(host.token);

	/* loading the same file again gives the same object */
	again = load(f, plugin_dir(), "testok", 0);
	assert_ptr_equal(again, p);
	/* and another plugin on a later fd is really that other plugin */
	p = load(f, plugin_dir(), "testfail", 0);
	assert_string_equal(p->name, "testfail");
}

static void test_abi_mismatch(void **state)
{
	struct fx *f = *state;
	char host_v[32], plug_v[32];

	fmt(host_v, sizeof(host_v), "%d.%d", DBR_PROVIDER_ABI_MAJOR, DBR_PROVIDER_ABI_MINOR);
	load(f, plugin_dir(), "testold", DBR_E_PLUGIN_ABI);
	fmt(plug_v, sizeof(plug_v), "ABI 0.%d", DBR_PROVIDER_ABI_MINOR);
	assert_msg_has(f, plug_v);
	assert_msg_has(f, host_v);
	assert_msg_has(f, "testold.so");
	assert_msg_has(f, "rebuild");

	load(f, plugin_dir(), "testnewer", DBR_E_PLUGIN_ABI);
	fmt(plug_v, sizeof(plug_v), "ABI %d.%d", DBR_PROVIDER_ABI_MAJOR,
		 DBR_PROVIDER_ABI_MINOR + 1);
	assert_msg_has(f, plug_v);
	assert_msg_has(f, host_v);
	assert_msg_has(f, "upgrade dbroker");
}

static void test_broken_plugins(void **state)
{
	struct fx *f = *state;

	load(f, plugin_dir(), "testnosym", DBR_E_PLUGIN);
	assert_msg_has(f, "dbroker_provider_testnosym");
	load(f, plugin_dir(), "testnoresolve", DBR_E_PLUGIN);
	assert_msg_has(f, "no resolve function");
	load(f, plugin_dir(), "testwrongname", DBR_E_PLUGIN);
	assert_msg_has(f, "'someone_else'");
	assert_msg_has(f, "not 'testwrongname'");
}

static void test_missing_and_bad_names(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 16];

	load(f, plugin_dir(), "notthere", DBR_E_PLUGIN);
	assert_msg_has(f, "provider plugin 'notthere' is not installed");
	fmt(want, sizeof(want), "(looked for '%s/notthere.so')", plugin_dir());
	assert_msg_has(f, want);
	load(f, "/nonexistent/dbroker/plugins", "vault", DBR_E_PLUGIN);
	assert_msg_has(f, "is not installed");

	load(f, plugin_dir(), "../x", DBR_E_INVAL);
	load(f, plugin_dir(), "A", DBR_E_INVAL);
	load(f, plugin_dir(), "", DBR_E_INVAL);
	load(f, plugin_dir(), NULL, DBR_E_INVAL);
	load(f, plugin_dir(), "testok/../testok", DBR_E_INVAL);
}

static void test_plugin_dir_default(void **state)
{
	(void)state;
	setenv("DBROKER_PLUGIN_DIR", "/opt/elsewhere", 1);
	assert_string_equal(dbr_plugin_dir_default(), "/opt/elsewhere");
	setenv("DBROKER_PLUGIN_DIR", "", 1);
	assert_string_not_equal(dbr_plugin_dir_default(), "");
	assert_true(dbr_plugin_dir_default()[0] == '/');
	unsetenv("DBROKER_PLUGIN_DIR");
	assert_true(dbr_plugin_dir_default()[0] == '/');
}

/* Both entry points refuse the same unsafe layout with the same code. */
static void expect_unsafe(struct fx *f, const char *dir, const char *name,
			  const char *needle)
{
	char path[PATH_MAX];

	fmt(path, sizeof(path), "%s/%s.so", dir, name);
	load(f, dir, name, DBR_E_UNSAFE_PERM);
	assert_msg_has(f, needle);
	dbr_err_clear(&f->err);
	assert_int_equal(dbr_path_check_safe(path, &f->err), DBR_E_UNSAFE_PERM);
	assert_msg_has(f, needle);
}

static void test_unsafe_file_modes(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], want[PATH_MAX + 32];

	make_build_tmp(f->tmp, sizeof(f->tmp));
	copy_plugin("testok", f->tmp, 0755);
	fmt(path, sizeof(path), "%s/testok.so", f->tmp);
	assert_int_equal(dbr_path_check_safe(path, &f->err), 0);
	load(f, f->tmp, "testok", 0);

	assert_int_equal(chmod(path, 0775), 0);
	fmt(want, sizeof(want), "'%s' is writable by group or others", path);
	expect_unsafe(f, f->tmp, "testok", want);
	assert_msg_has(f, "mode 0775");
	assert_msg_has(f, "chmod go-w");
	fmt(want, sizeof(want), "owner uid %u", (unsigned)geteuid());
	assert_msg_has(f, want);

	assert_int_equal(chmod(path, 0757), 0);
	expect_unsafe(f, f->tmp, "testok", "mode 0757");
	assert_int_equal(chmod(path, 0755), 0);

	/* the plugin's own directory, even sticky */
	assert_int_equal(chmod(f->tmp, 0757), 0);
	fmt(want, sizeof(want), "plugin directory '%s' is writable", f->tmp);
	expect_unsafe(f, f->tmp, "testok", want);
	assert_int_equal(chmod(f->tmp, 01777), 0);
	expect_unsafe(f, f->tmp, "testok", "mode 1777");
	assert_int_equal(chmod(f->tmp, 0775), 0);
	expect_unsafe(f, f->tmp, "testok", "mode 0775");
	assert_int_equal(chmod(f->tmp, 0755), 0);
	load(f, f->tmp, "testok", 0);
}

static void test_symlinked_plugin_refused(void **state)
{
	struct fx *f = *state;
	char link_path[PATH_MAX], target[PATH_MAX];

	make_build_tmp(f->tmp, sizeof(f->tmp));
	fmt(target, sizeof(target), "%s/testok.so", plugin_dir());
	fmt(link_path, sizeof(link_path), "%s/testok.so", f->tmp);
	assert_int_equal(symlink(target, link_path), 0);
	expect_unsafe(f, f->tmp, "testok", "symbolic link");
	assert_msg_has(f, link_path);
}

static void test_not_regular_refused(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	make_build_tmp(f->tmp, sizeof(f->tmp));
	fmt(path, sizeof(path), "%s/testok.so", f->tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	expect_unsafe(f, f->tmp, "testok", "not a regular file");
}

static void test_foreign_owner_refused(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], sub[PATH_MAX];

	if (geteuid() != 0)
		skip();
	make_build_tmp(f->tmp, sizeof(f->tmp));
	copy_plugin("testok", f->tmp, 0755);
	fmt(path, sizeof(path), "%s/testok.so", f->tmp);
	assert_int_equal(chown(path, 65534, 65534), 0);
	expect_unsafe(f, f->tmp, "testok", "owned by uid 65534");
	assert_msg_has(f, path);
	assert_msg_has(f, "chown");
	assert_int_equal(chown(path, 0, 0), 0);

	/* a foreign-owned directory above the plugin */
	fmt(sub, sizeof(sub), "%s/sub", f->tmp);
	assert_int_equal(mkdir(sub, 0755), 0);
	copy_plugin("testok", sub, 0755);
	load(f, sub, "testok", 0);
	assert_int_equal(chown(f->tmp, 65534, 65534), 0);
	expect_unsafe(f, sub, "testok", "owned by uid 65534");
	assert_msg_has(f, f->tmp);
	assert_int_equal(chown(f->tmp, 0, 0), 0);
}

static void test_parent_dirs(void **state)
{
	struct fx *f = *state;
	char sticky[PATH_MAX], plugins[PATH_MAX], want[PATH_MAX + 32];

	make_build_tmp(f->tmp, sizeof(f->tmp));
	fmt(sticky, sizeof(sticky), "%s/shared", f->tmp);
	fmt(plugins, sizeof(plugins), "%s/shared/plugins", f->tmp);
	assert_int_equal(mkdir(sticky, 0755), 0);
	assert_int_equal(mkdir(plugins, 0755), 0);
	copy_plugin("testok", plugins, 0755);

	/* a world-writable parent without the sticky bit */
	assert_int_equal(chmod(sticky, 0777), 0);
	fmt(want, sizeof(want), "'%s' is writable by group or others", sticky);
	expect_unsafe(f, plugins, "testok", want);
	assert_msg_has(f, "mode 0777");

	/* sticky: passed through when root owns it */
	assert_int_equal(chmod(sticky, 01777), 0);
	if (geteuid() == 0) {
		load(f, plugins, "testok", 0);
		assert_int_equal(dbr_path_check_safe(plugins, &f->err), DBR_E_UNSAFE_PERM);
		fmt(want, sizeof(want), "%s/testok.so", plugins);
		assert_int_equal(dbr_path_check_safe(want, &f->err), 0);
		/* ... and refused when someone else owns it */
		assert_int_equal(chown(sticky, 65534, 65534), 0);
		expect_unsafe(f, plugins, "testok", "owned by uid 65534");
		assert_int_equal(chown(sticky, 0, 0), 0);
	} else {
		/* we own it, we are not root: the exception does not apply */
		expect_unsafe(f, plugins, "testok", "mode 1777");
	}
}

static void test_root_sticky_tmp_passes(void **state)
{
	struct fx *f = *state;
	struct stat st;

	/* the real thing: a private directory under a root-owned sticky /tmp */
	if (stat("/tmp", &st) != 0 || st.st_uid != 0 || !(st.st_mode & S_ISVTX) ||
	    !(st.st_mode & S_IWOTH))
		skip();
	fmt(f->extra, sizeof(f->extra), "/tmp/dbr-plugins-XXXXXX");
	assert_non_null(mkdtemp(f->extra));
	copy_plugin("testok", f->extra, 0755);
	load(f, f->extra, "testok", 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_name_valid),
		T(test_validate),
		T(test_load_testok_and_resolve),
		T(test_abi_mismatch),
		T(test_broken_plugins),
		T(test_missing_and_bad_names),
		T(test_plugin_dir_default),
		T(test_unsafe_file_modes),
		T(test_symlinked_plugin_refused),
		T(test_not_regular_refused),
		T(test_foreign_owner_refused),
		T(test_parent_dirs),
		T(test_root_sticky_tmp_passes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
