/* libcurl, loaded on first use: see curl_lazy.h. */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* the forwarders are defined under curl's own names: no type-checking
 * macros in this file */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "alloc.h"
#include "crypto_lazy.h"
#include "dl_load.h"
#include "runtime_internal.h"
#include "banned.h"

/* The ABI soname: the same library a link with -lcurl would record. */
#define DBR_CURL_SONAME "libcurl.so.4"

/* Every libcurl function the library uses: name, return type, parameters. */
#define DBR_CURL_FUNCS(X)                                                              \
	X(curl_global_init_mem, CURLcode, (long, curl_malloc_callback, curl_free_callback, \
					   curl_realloc_callback, curl_strdup_callback,  \
					   curl_calloc_callback))                         \
	X(curl_global_cleanup, void, (void))                                           \
	X(curl_easy_init, CURL *, (void))                                              \
	X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))                       \
	X(curl_easy_perform, CURLcode, (CURL *))                                       \
	X(curl_easy_cleanup, void, (CURL *))                                           \
	X(curl_easy_reset, void, (CURL *))                                             \
	X(curl_easy_send, CURLcode, (CURL *, const void *, size_t, size_t *))          \
	X(curl_easy_recv, CURLcode, (CURL *, void *, size_t, size_t *))                \
	X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))                        \
	X(curl_easy_header, CURLHcode, (CURL *, const char *, size_t, unsigned int, int, \
					struct curl_header **))                         \
	X(curl_easy_strerror, const char *, (CURLcode))                                \
	X(curl_free, void, (void *))                                                   \
	X(curl_getdate, time_t, (const char *, const time_t *))                        \
	X(curl_slist_append, struct curl_slist *, (struct curl_slist *, const char *)) \
	X(curl_slist_free_all, void, (struct curl_slist *))                            \
	X(curl_url, CURLU *, (void))                                                   \
	X(curl_url_cleanup, void, (CURLU *))                                           \
	X(curl_url_dup, CURLU *, (CURLU *))                                            \
	X(curl_url_get, CURLUcode, (CURLU *, CURLUPart, char **, unsigned int))        \
	X(curl_url_set, CURLUcode, (CURLU *, CURLUPart, const char *, unsigned int))   \
	X(curl_share_init, CURLSH *, (void))                                           \
	X(curl_share_setopt, CURLSHcode, (CURLSH *, CURLSHoption, ...))                \
	X(curl_share_cleanup, CURLSHcode, (CURLSH *))

#define DBR_CURL_PTR(name, ret, args) ret(*name) args;
static struct {
	DBR_CURL_FUNCS(DBR_CURL_PTR)
} fn;
#undef DBR_CURL_PTR

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = DBR_E_IO; /* written once, inside load_once */
static char load_msg[400];

#define DBR_CURL_NAME(name, ret, args) #name,
static const char *const names[] = { DBR_CURL_FUNCS(DBR_CURL_NAME) };
#undef DBR_CURL_NAME

static void load(void)
{
	static const struct dbr_dl_lib lib = {
		DBR_CURL_SONAME, RTLD_LAZY | RTLD_LOCAL,
		"install libcurl with OpenSSL (Debian: apt-get install libcurl4)",
		"dbroker needs libcurl 7.83 or newer"
	};
	struct dbr_err cerr;

	/* libcurl brings libssl and libcrypto: libcrypto must be ours, loaded
	 * and hooked, before libcurl's initialisation allocates through it */
	if ((load_rc = dbr_crypto_load(&cerr))) {
		snprintf(load_msg, sizeof(load_msg), "%.399s", cerr.msg);
		return;
	}
	load_rc = DBR_E_IO;
	/* never half-loaded: every forwarder checks load_rc first */
	if (dbr_dl_load(&lib, names, sizeof(names) / sizeof(names[0]), &fn, sizeof(fn), load_msg,
			sizeof(load_msg)))
		return;
	if (fn.curl_global_init_mem(CURL_GLOBAL_DEFAULT, dbr_wipe_malloc, dbr_wipe_free,
				    dbr_wipe_realloc, dbr_wipe_strdup,
				    dbr_wipe_calloc) != CURLE_OK) {
		snprintf(load_msg, sizeof(load_msg), "libcurl failed to initialise");
		return;
	}
	load_rc = 0;
	/* dbr_runtime_cleanup() (core) releases libcurl without naming it */
	dbr_runtime_on_cleanup(dbr_curl_unload);
}

static int ready(void)
{
	pthread_once(&load_once, load);
	return load_rc == 0;
}

int dbr_curl_load(struct dbr_err *err)
{
	if (ready())
		return 0;
	return dbr_err_set(err, DBR_E_IO, "%s", load_msg);
}

int dbr_curl_loaded(void)
{
	/* only meaningful once load() ran; callers ask after their own use */
	return load_rc == 0;
}

void dbr_curl_unload(void)
{
	if (load_rc == 0)
		fn.curl_global_cleanup();
}

/* The forwarders. curl_global_init_mem and curl_global_cleanup are not
 * among them: the loader and dbr_curl_unload own those. */

CURL *curl_easy_init(void)
{
	return ready() ? fn.curl_easy_init() : NULL;
}

/* The argument's type follows from the option's number range, as in curl's
 * own curl_easy_setopt() (lib/setopt.c). */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? fn.curl_easy_perform(h) : CURLE_FAILED_INIT;
}

void curl_easy_cleanup(CURL *h)
{
	if (ready())
		fn.curl_easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (ready())
		fn.curl_easy_reset(h);
}

CURLcode curl_easy_send(CURL *h, const void *p, size_t n, size_t *sent)
{
	return ready() ? fn.curl_easy_send(h, p, n, sent) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_recv(CURL *h, void *p, size_t n, size_t *got)
{
	return ready() ? fn.curl_easy_recv(h, p, n, got) : CURLE_FAILED_INIT;
}

/* Every CURLINFO takes a pointer to the result. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLHcode curl_easy_header(CURL *h, const char *name, size_t index, unsigned int origin,
			   int request, struct curl_header **hout)
{
	if (!ready())
		return CURLHE_NOT_BUILT_IN;
	return fn.curl_easy_header(h, name, index, origin, request, hout);
}

const char *curl_easy_strerror(CURLcode cc)
{
	return ready() ? fn.curl_easy_strerror(cc) : "libcurl is not available";
}

void curl_free(void *p)
{
	if (p && ready())
		fn.curl_free(p);
}

time_t curl_getdate(const char *p, const time_t *unused)
{
	return ready() ? fn.curl_getdate(p, unused) : (time_t)-1;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? fn.curl_slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l && ready())
		fn.curl_slist_free_all(l);
}

CURLU *curl_url(void)
{
	return ready() ? fn.curl_url() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
	if (u && ready())
		fn.curl_url_cleanup(u);
}

CURLU *curl_url_dup(CURLU *u)
{
	return ready() ? fn.curl_url_dup(u) : NULL;
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return ready() ? fn.curl_url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return ready() ? fn.curl_url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLSH *curl_share_init(void)
{
	return ready() ? fn.curl_share_init() : NULL;
}

/* The argument's type follows from the option, as in curl's own
 * curl_share_setopt() (lib/share.c). */
CURLSHcode curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
	CURLSHcode rc;
	va_list ap;

	if (!ready())
		return CURLSHE_NOT_BUILT_IN;
	va_start(ap, opt);
	switch (opt) {
	case CURLSHOPT_SHARE:
	case CURLSHOPT_UNSHARE:
		rc = fn.curl_share_setopt(sh, opt, va_arg(ap, int));
		break;
	case CURLSHOPT_LOCKFUNC:
	case CURLSHOPT_UNLOCKFUNC:
		rc = fn.curl_share_setopt(sh, opt, va_arg(ap, void (*)(void)));
		break;
	default:
		rc = fn.curl_share_setopt(sh, opt, va_arg(ap, void *));
		break;
	}
	va_end(ap);
	return rc;
}

CURLSHcode curl_share_cleanup(CURLSH *sh)
{
	return ready() ? fn.curl_share_cleanup(sh) : CURLSHE_NOT_BUILT_IN;
}
