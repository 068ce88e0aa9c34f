/* One source for every test plugin; the build picks the variant:
 *   TP_NAME         file and symbol name (required)
 *   TP_DESC_NAME    name in the descriptor (default TP_NAME)
 *   TP_SYMBOL       symbol suffix (default TP_NAME)
 *   TP_ABI_MAJOR, TP_ABI_MINOR  (default the host's)
 *   TP_NO_RESOLVE   descriptor without resolve()
 *   TP_FAIL         resolve() fails with DBR_E_AUTH and a reason
 *   TP_SCRUB        resolve() scrubs TESTSCRUB_VAR through the host's
 *                   env_scrub (ABI 1.2) and says how many it wiped
 *   TP_FILL         resolve() writes the token in place through the host's
 *                   secret_fill (ABI 1.3)
 *   TP_CLIENT       resolve() sets a client id and secret (ABI 1.4
 *                   set_client) instead of the token; with TP_BOTH, too
 *   TP_STORE        store() accepts anything (says "stored" as its reason)
 * A plugin links nothing of dbroker: everything goes through the services
 * table the host hands to init(). */
#include <string.h>

#include "dbroker/provider.h"
#include "testplugin.h"

#ifndef TP_NAME
#error "TP_NAME is required"
#endif
#ifndef TP_DESC_NAME
#define TP_DESC_NAME TP_NAME
#endif
#ifndef TP_SYMBOL
#define TP_SYMBOL TP_NAME
#endif
#ifndef TP_ABI_MAJOR
#define TP_ABI_MAJOR DBR_PROVIDER_ABI_MAJOR
#endif
#ifndef TP_ABI_MINOR
#define TP_ABI_MINOR DBR_PROVIDER_ABI_MINOR
#endif

#define TP_STR_(x) #x
#define TP_STR(x) TP_STR_(x)
#define TP_CAT_(a, b) a##b
#define TP_CAT(a, b) TP_CAT_(a, b)
#define TP_ENTRY TP_CAT(dbroker_provider_, TP_SYMBOL)

static int tp_init(const struct dbr_host_services *svc, struct dbr_host *h, void **state)
{
	(void)h;
	*state = (void *)svc;
	return 0;
}

#ifdef TP_FILL
static int tp_fill(void *ctx, unsigned char *buf, size_t cap, size_t *len)
{
	(void)ctx;
	if (cap < sizeof(TESTOK_TOKEN) - 1)
		return DBR_E_TOO_LARGE;
	memcpy(buf, TESTOK_TOKEN, sizeof(TESTOK_TOKEN) - 1);
	*len = sizeof(TESTOK_TOKEN) - 1;
	return 0;
}
#endif

#ifndef TP_NO_RESOLVE
static int tp_resolve(void *state, struct dbr_host *h)
{
	const struct dbr_host_services *svc = state;
#ifdef TP_FAIL
	svc->set_reason(h, "%s", TESTFAIL_REASON);
	return DBR_E_AUTH;
#else
	struct dbr_secret *s = NULL;
	int rc;

	rc = svc->set_host_url(h, TESTOK_HOST);
	if (rc)
		return rc;
#ifdef TP_FILL
	if (!DBR_HOST_HAS(svc, secret_fill)) {
		svc->set_reason(h, "host has no secret_fill");
		return DBR_E_PLUGIN_ABI;
	}
	rc = svc->secret_fill(sizeof(TESTOK_TOKEN) - 1, tp_fill, NULL, &s);
#else
	rc = svc->secret_new(TESTOK_TOKEN, strlen(TESTOK_TOKEN), &s);
#endif
	if (rc)
		return rc;
#if defined(TP_CLIENT)
	{
		struct dbr_secret *cs = NULL;

		if (!DBR_HOST_HAS(svc, set_client)) {
			svc->secret_free(s);
			svc->set_reason(h, "host has no set_client");
			return DBR_E_PLUGIN_ABI;
		}
		rc = svc->secret_new(TESTCLIENT_SECRET, strlen(TESTCLIENT_SECRET), &cs);
		if (rc == 0)
			rc = svc->set_client(h, TESTCLIENT_ID, cs);
		if (rc) {
			svc->secret_free(s);
			return rc;
		}
		svc->set_reason(h, "fixed test client");
#ifndef TP_BOTH
		svc->secret_free(s);
		return 0;
#endif
	}
#elif defined(TP_SCRUB)
	if (!DBR_HOST_HAS(svc, env_scrub)) {
		svc->secret_free(s);
		svc->set_reason(h, "host has no env_scrub");
		return DBR_E_PLUGIN_ABI;
	}
	svc->set_reason(h, "scrubbed %d", svc->env_scrub(TESTSCRUB_VAR));
#elif defined(TP_FILL)
	svc->set_reason(h, "filled in place");
#else
	svc->set_reason(h, "fixed test token");
#endif
	return svc->set_token(h, s);
#endif
}
#endif

#ifdef TP_STORE
static int tp_store(void *state, struct dbr_host *h, const char *host_url,
		    const struct dbr_secret *token)
{
	const struct dbr_host_services *svc = state;

	(void)host_url, (void)token;
	svc->set_reason(h, "stored");
	return 0;
}
#endif

static const struct dbr_provider tp_provider = {
	.abi_major = TP_ABI_MAJOR,
	.abi_minor = TP_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = TP_STR(TP_DESC_NAME),
	.description = "test plugin " TP_STR(TP_NAME),
	.init = tp_init,
#ifndef TP_NO_RESOLVE
	.resolve = tp_resolve,
#endif
#ifdef TP_STORE
	.store = tp_store,
#endif
};

DBR_PROVIDER_EXPORT const struct dbr_provider *TP_ENTRY(void);

DBR_PROVIDER_EXPORT const struct dbr_provider *TP_ENTRY(void)
{
	return &tp_provider;
}
