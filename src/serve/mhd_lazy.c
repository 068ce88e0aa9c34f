/* libmicrohttpd, loaded on first use (like libcurl in net/curl_lazy.c):
 * every dbroker command links libdbroker, and only `exec` serves HTTP, so
 * no other command pays for loading libmicrohttpd and the GnuTLS stack it
 * brings (about 10 shared libraries, several milliseconds per start).
 * This file defines the MHD_* functions the serve layer calls, with the
 * library's own prototypes, forwarding to libmicrohttpd.so.12 once it is
 * loaded; either every symbol loads or none does. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "proxy_internal.h"
#include "dl_load.h"
#include "banned.h"

#define DBR_MHD_SONAME "libmicrohttpd.so.12"

#define DBR_MHD_FUNCS(X)                                                                   \
	X(MHD_start_daemon_va, struct MHD_Daemon *, (unsigned int, uint16_t,                \
		MHD_AcceptPolicyCallback, void *, MHD_AccessHandlerCallback, void *, va_list)) \
	X(MHD_stop_daemon, void, (struct MHD_Daemon *))                                     \
	X(MHD_get_connection_values, int, (struct MHD_Connection *, enum MHD_ValueKind,    \
		MHD_KeyValueIterator, void *))                                              \
	X(MHD_lookup_connection_value, const char *, (struct MHD_Connection *,             \
		enum MHD_ValueKind, const char *))                                          \
	X(MHD_queue_response, enum MHD_Result, (struct MHD_Connection *, unsigned int,     \
		struct MHD_Response *))                                                     \
	X(MHD_create_response_from_callback, struct MHD_Response *, (uint64_t, size_t,     \
		MHD_ContentReaderCallback, void *, MHD_ContentReaderFreeCallback))          \
	X(MHD_create_response_from_buffer, struct MHD_Response *, (size_t, void *,         \
		enum MHD_ResponseMemoryMode))                                               \
	X(MHD_destroy_response, void, (struct MHD_Response *))                              \
	X(MHD_add_response_header, enum MHD_Result, (struct MHD_Response *, const char *,  \
		const char *))                                                              \
	X(MHD_set_response_options, enum MHD_Result, (struct MHD_Response *,                \
		enum MHD_ResponseFlags, ...))                                               \
	X(MHD_get_connection_info, const union MHD_ConnectionInfo *,                        \
		(struct MHD_Connection *, enum MHD_ConnectionInfoType, ...))                \
	X(MHD_get_version, const char *, (void))

#define DBR_MHD_PTR(name, ret, args) ret(*name) args;
static struct {
	DBR_MHD_FUNCS(DBR_MHD_PTR)
} fn;
#undef DBR_MHD_PTR

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = DBR_E_IO;
static char load_msg[400];

#define DBR_MHD_NAME(name, ret, args) #name,
static const char *const names[] = { DBR_MHD_FUNCS(DBR_MHD_NAME) };
#undef DBR_MHD_NAME

static void load(void)
{
	static const struct dbr_dl_lib lib = {
		DBR_MHD_SONAME, RTLD_LAZY | RTLD_LOCAL,
		"install libmicrohttpd (Debian: apt-get install libmicrohttpd12)",
		"dbroker needs libmicrohttpd 0.9.71 or newer"
	};

	if (dbr_dl_load(&lib, names, sizeof(names) / sizeof(names[0]), &fn, sizeof(fn), load_msg,
			sizeof(load_msg)) == 0)
		load_rc = 0;
}

int dbr_mhd_load(struct dbr_err *err)
{
	pthread_once(&load_once, load);
	if (load_rc == 0)
		return 0;
	return dbr_err_set(err, DBR_E_IO, "%s", load_msg);
}

/* The forwarders: only reached after dbr_mhd_load() succeeded (the proxy
 * checks it before starting the daemon, and every other call is made on
 * objects the daemon created). */

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc, void *apc_cls,
				    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (dbr_mhd_load(NULL))
		return NULL;
	va_start(ap, dh_cls);
	d = fn.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	fn.MHD_stop_daemon(daemon);
}

int MHD_get_connection_values(struct MHD_Connection *c, enum MHD_ValueKind kind,
			      MHD_KeyValueIterator it, void *it_cls)
{
	return fn.MHD_get_connection_values(c, kind, it, it_cls);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind,
					const char *key)
{
	return fn.MHD_lookup_connection_value(c, kind, key);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
				   struct MHD_Response *r)
{
	return fn.MHD_queue_response(c, status, r);
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block,
						       MHD_ContentReaderCallback crc, void *cls,
						       MHD_ContentReaderFreeCallback crfc)
{
	return fn.MHD_create_response_from_callback(size, block, crc, cls, crfc);
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buf,
						     enum MHD_ResponseMemoryMode mode)
{
	return fn.MHD_create_response_from_buffer(size, buf, mode);
}

void MHD_destroy_response(struct MHD_Response *r)
{
	fn.MHD_destroy_response(r);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *h, const char *v)
{
	return fn.MHD_add_response_header(r, h, v);
}

/* Only flags are set, with no option after them. */
enum MHD_Result MHD_set_response_options(struct MHD_Response *r, enum MHD_ResponseFlags flags,
					 ...)
{
	return fn.MHD_set_response_options(r, flags, MHD_RO_END);
}

/* Only the kinds that take no further argument are asked for. */
const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c,
							enum MHD_ConnectionInfoType type, ...)
{
	return fn.MHD_get_connection_info(c, type);
}

const char *MHD_get_version(void)
{
	return fn.MHD_get_version();
}
