/* Provider plugins: safe-path checks, descriptor validation, loading.
 * See plugin_loader.h for the contract. */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto_lazy.h"
#include "safe_path.h"
#include "version.h"
#include "banned.h"

int dbr_provider_name_valid(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (; name[n]; n++) {
		char ch = name[n];

		if (n >= DBR_PROVIDER_NAME_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
	}
	return n > 0;
}

int dbr_path_check_safe(const char *path, struct dbr_err *err)
{
	return dbr_path_check(path, &dbr_path_plugin, err);
}

int dbr_provider_validate(const struct dbr_provider *p, const char *origin,
			  struct dbr_err *err)
{
	const size_t need = offsetof(struct dbr_provider, fini) + sizeof(p->fini);

	if (!origin)
		origin = "unknown";
	if (!p)
		return dbr_err_set(err, DBR_E_PLUGIN, "provider from '%s' returned no "
				   "descriptor: the plugin is broken; reinstall it", origin);
	/* only the three leading fields are common to every ABI: nothing else
	 * is read until the version and size are known to fit */
	if (p->abi_major > DBR_PROVIDER_ABI_MAJOR ||
	    (p->abi_major == DBR_PROVIDER_ABI_MAJOR && p->abi_minor > DBR_PROVIDER_ABI_MINOR))
		return dbr_err_set(err, DBR_E_PLUGIN_ABI,
				   "provider from '%s' speaks plugin ABI %u.%u, newer than "
				   "this dbroker's %d.%d: upgrade dbroker, or install a build "
				   "of the plugin for ABI %d.%d", origin, (unsigned)p->abi_major,
				   (unsigned)p->abi_minor, DBR_PROVIDER_ABI_MAJOR,
				   DBR_PROVIDER_ABI_MINOR, DBR_PROVIDER_ABI_MAJOR,
				   DBR_PROVIDER_ABI_MINOR);
	if (p->abi_major != DBR_PROVIDER_ABI_MAJOR)
		return dbr_err_set(err, DBR_E_PLUGIN_ABI,
				   "provider from '%s' speaks plugin ABI %u.%u, older than "
				   "this dbroker's %d.%d: rebuild or upgrade the plugin for "
				   "ABI %d.%d", origin, (unsigned)p->abi_major,
				   (unsigned)p->abi_minor, DBR_PROVIDER_ABI_MAJOR,
				   DBR_PROVIDER_ABI_MINOR, DBR_PROVIDER_ABI_MAJOR,
				   DBR_PROVIDER_ABI_MINOR);
	if (p->struct_size < need)
		return dbr_err_set(err, DBR_E_PLUGIN,
				   "provider from '%s' has a %u-byte descriptor, smaller than "
				   "the %zu bytes ABI %u.%u requires: rebuild the plugin against "
				   "dbroker's provider.h", origin, (unsigned)p->struct_size,
				   need, (unsigned)p->abi_major, (unsigned)p->abi_minor);
	if (!dbr_provider_name_valid(p->name))
		return dbr_err_set(err, DBR_E_PLUGIN,
				   "provider from '%s' has a missing or invalid name (it must "
				   "be 1 to %d of a-z, 0-9 and _): fix and rebuild the plugin",
				   origin, DBR_PROVIDER_NAME_MAX);
	if (!p->init || !p->resolve)
		return dbr_err_set(err, DBR_E_PLUGIN,
				   "provider '%s' from '%s' has no %s function: fix and rebuild "
				   "the plugin", p->name, origin, p->init ? "resolve" : "init");
	if (p->struct_size >= sizeof(*p)) {
		for (size_t i = 0; i < sizeof(p->reserved) / sizeof(p->reserved[0]); i++)
			if (p->reserved[i])
				return dbr_err_set(err, DBR_E_PLUGIN,
						   "provider '%s' from '%s' sets reserved field %zu: "
						   "rebuild the plugin against this dbroker's "
						   "provider.h", p->name, origin, i);
	}
	return 0;
}

static char installed_dir[PATH_MAX];
static pthread_once_t installed_once = PTHREAD_ONCE_INIT;

/* DBR_PLUGIN_DIR_FROM_LIB next to the real file this code was loaded from
 * (libdbroker.so in any prefix, however it was moved), else the configured
 * full path. realpath: a symlinked libdbroker still finds its own tree. */
static void find_installed_dir(void)
{
	Dl_info info;
	char lib[PATH_MAX], *slash;
	int n;

	snprintf(installed_dir, sizeof(installed_dir), "%s", DBR_PLUGIN_DIR_DEFAULT);
	if (DBR_PLUGIN_DIR_ABSOLUTE[0]) {
		snprintf(installed_dir, sizeof(installed_dir), "%s", DBR_PLUGIN_DIR_ABSOLUTE);
		return;
	}
	if (!dladdr((void *)find_installed_dir, &info) || !info.dli_fname ||
	    info.dli_fname[0] != '/' || !realpath(info.dli_fname, lib))
		return;
	slash = strrchr(lib, '/');
	if (!slash)
		return;
	*slash = '\0';
	n = snprintf(installed_dir, sizeof(installed_dir), "%s/%s", lib[0] ? lib : "",
		     DBR_PLUGIN_DIR_FROM_LIB);
	if (n < 0 || (size_t)n >= sizeof(installed_dir))
		snprintf(installed_dir, sizeof(installed_dir), "%s", DBR_PLUGIN_DIR_DEFAULT);
}

const char *dbr_plugin_dir_default(void)
{
	const char *d = secure_getenv("DBROKER_PLUGIN_DIR");

	if (d && *d)
		return d;
	pthread_once(&installed_once, find_installed_dir);
	return installed_dir;
}

/* What dlopen() should open: /proc/self/fd/N when it reaches the very file
 * fd refers to (so the file checked is the file mapped, whatever happens to
 * the path meanwhile), else the path itself (no /proc: the checked directory
 * chain already keeps other users from swapping the file).
 * WARNING: glibc recognises loaded objects by the name passed to dlopen()
 * before it opens anything, so a second plugin opened on a reused fd number
 * would silently get the FIRST plugin's handle. The loader therefore keeps
 * the fd of every plugin it mapped open for good (see dbr_plugin_load), and
 * falls back to the path if the name is taken all the same. */
static const char *load_name(int fd, const struct stat *st, char *procpath,
			     size_t procsz, const char *path)
{
	struct stat pst;

	snprintf(procpath, procsz, "/proc/self/fd/%d", fd);
	if (stat(procpath, &pst) != 0 || pst.st_dev != st->st_dev ||
	    pst.st_ino != st->st_ino)
		return path;
	/* RTLD_NOLOAD only looks; if it finds something it takes a reference,
	 * which is left alone: plugins are never unloaded anyway */
	if (dlopen(procpath, RTLD_LAZY | RTLD_NOLOAD))
		return path;
	return procpath;
}

static int not_installed(const char *name, const char *path, struct dbr_err *err)
{
	return dbr_err_set(err, DBR_E_PLUGIN, "provider plugin '%s' is not installed (looked "
			   "for '%s'): install it, point --plugin-dir or DBROKER_PLUGIN_DIR at "
			   "the directory that holds it, or take '%s' out of the chain", name,
			   path, name);
}

/* Plugins are never dlclose()d, even the ones rejected here: the chain keeps
 * pointers to their descriptors and strings; their constructors have already
 * run and may have registered atexit handlers, thread-local destructors or
 * GLib types (the keyring plugin pulls in libsecret) that would point into
 * unmapped code after an unload; and a process that loads a handful of
 * plugins once gains nothing from unmapping them. For the same reason the fd
 * a plugin was mapped through stays open (close-on-exec; see load_name). */
int dbr_plugin_load(const char *dir, const char *name,
		    const struct dbr_provider **out, struct dbr_err *err)
{
	struct dbr_buf path = DBR_BUF_INIT(PATH_MAX);
	struct dbr_buf real = DBR_BUF_INIT(PATH_MAX);
	struct dbr_buf sym = DBR_BUF_INIT(64);
	const struct dbr_provider *p;
	dbr_provider_entry_fn entry;
	char procpath[64], *realdir = NULL;
	const char *what;
	struct stat st;
	void *handle, *addr;
	int fd = -1, rc;

	_Static_assert(sizeof(entry) == sizeof(addr), "function and data pointers differ");
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "dbr_plugin_load: out is NULL");
	*out = NULL;
	if (!dbr_provider_name_valid(name))
		return dbr_err_set(err, DBR_E_INVAL,
				   "'%s' is not a valid provider name: use 1 to %d of a-z, "
				   "0-9 and _", name ? name : "", DBR_PROVIDER_NAME_MAX);
	if (!dir)
		dir = dbr_plugin_dir_default();
	rc = dbr_buf_addf(&path, "%s/%s.so", dir, name);
	if (rc == DBR_E_TOO_LARGE) {
		rc = dbr_err_set(err, DBR_E_INVAL, "plugin directory '%s' is too long", dir);
		goto out;
	}
	if (rc || dbr_buf_addf(&sym, "%s%s", DBR_PROVIDER_SYMBOL_PREFIX, name))
		goto nomem;

	/* resolve the directory once, open the file inside the resolved
	 * directory, then check that chain: nothing checked can be swapped
	 * for something unchecked in between */
	rc = dbr_path_real_dir(path.data, &realdir);
	if (rc == ENOENT || rc == ENOTDIR) {
		rc = not_installed(name, path.data, err);
		goto out;
	}
	if (rc > 0) {
		rc = dbr_err_set(err, DBR_E_PLUGIN, "cannot open plugin directory '%s': %s: "
				 "check --plugin-dir or DBROKER_PLUGIN_DIR", dir, strerror(rc));
		goto out;
	}
	if (rc)
		goto nomem;
	if (dbr_buf_addf(&real, "%s/%s.so", strcmp(realdir, "/") ? realdir : "", name))
		goto nomem;
	fd = open(real.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		rc = not_installed(name, path.data, err);
		goto out;
	}
	if (fd < 0 && errno == ELOOP && lstat(real.data, &st) == 0) {
		rc = dbr_path_check_file_stat(real.data, &st, &dbr_path_plugin, err);
		if (!rc) /* the link was replaced meanwhile: refuse anyway */
			rc = dbr_err_set(err, DBR_E_UNSAFE_PERM, "'%s' is a symbolic link: "
					 "copy the plugin into place", real.data);
		goto out;
	}
	if (fd < 0) {
		rc = dbr_err_set(err, DBR_E_PLUGIN, "cannot open provider plugin '%s': %s: "
				 "check that you can read it, or reinstall it", real.data,
				 strerror(errno));
		goto out;
	}
	rc = dbr_path_check_dir_chain(realdir, &dbr_path_plugin, err);
	if (rc)
		goto out;
	if (fstat(fd, &st) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", real.data,
				 strerror(errno));
		goto out;
	}
	rc = dbr_path_check_file_stat(real.data, &st, &dbr_path_plugin, err);
	if (rc)
		goto out;

	/* a plugin that links libcrypto must find it loaded with the wiping
	 * allocators in place (crypto_lazy.h) */
	rc = dbr_crypto_load(err);
	if (rc)
		goto out;
	what = load_name(fd, &st, procpath, sizeof(procpath), real.data);
	dlerror();
	handle = dlopen(what, RTLD_NOW | RTLD_LOCAL);
	if (handle && what == procpath)
		fd = -1; /* mapped through this fd number: keep it (see load_name) */
	if (!handle) {
		const char *why = dlerror();

		rc = dbr_err_set(err, DBR_E_PLUGIN, "cannot load provider plugin '%s': %s: "
				 "reinstall the plugin built with this dbroker, or remove the file",
				 real.data, why ? why : "unknown dlopen error");
		goto out;
	}
	dlerror();
	addr = dlsym(handle, sym.data);
	if (!addr) {
		rc = dbr_err_set(err, DBR_E_PLUGIN,
				 "'%s' does not export '%s': it is not a dbroker provider "
				 "plugin for '%s'; reinstall it", real.data, sym.data, name);
		goto out;
	}
	memcpy(&entry, &addr, sizeof(entry));
	p = entry();
	rc = dbr_provider_validate(p, real.data, err);
	if (rc)
		goto out;
	if (strcmp(p->name, name)) {
		rc = dbr_err_set(err, DBR_E_PLUGIN,
				 "'%s' describes provider '%s', not '%s': rename it to "
				 "'%s.so' or reinstall the plugin", real.data, p->name, name,
				 p->name);
		goto out;
	}
	*out = p;
	rc = 0;
	goto out;
nomem:
	rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
out:
	if (fd >= 0)
		close(fd);
	free(realdir);
	dbr_buf_release(&path);
	dbr_buf_release(&real);
	dbr_buf_release(&sym);
	return rc;
}
