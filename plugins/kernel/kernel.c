/* kernel: tokens in the Linux kernel's keyring, for hosts without a desktop
 * keyring (no D-Bus, no Secret Service: SSH sessions, CI runners).
 *
 * One `user` key per profile, described "dbroker:<profile>:<host>" (for a
 * service principal's OAuth client secret, `login --oauth-m2m`, followed
 * by " client_id=<id>"), in the
 * user's persistent keyring by default (it outlives the login session and
 * expires after /proc/sys/kernel/keys/persistent_keyring_expiry seconds
 * unused), else the one kernel_keyring names: "user" (until the user's last
 * process ends) or "session" (this login session). Permissions: all for the
 * possessor, view for the user, nothing for group and other. Every key has
 * a timeout (kernel_ttl, `login --ttl`; default 12 h).
 *
 * Answers: resolve says "not here" when there is no key, it expired, or
 * it left (a logout) between listing and reading; everything the kernel
 * refuses (seccomp, quota, a revoked key, denied access) is an error that
 * stops the chain, named by kernel_info.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernel_internal.h"

#define KN_CLIENT_SEP " client_id="

static int ring_from_config(struct kn_state *st, struct dbr_host *h, enum kn_ring *out)
{
	const char *v = st->svc->config_get(h, "kernel_keyring");

	if (!v || !*v || strcmp(v, "persistent") == 0)
		*out = KN_PERSISTENT;
	else if (strcmp(v, "user") == 0)
		*out = KN_USER;
	else if (strcmp(v, "session") == 0)
		*out = KN_SESSION;
	else {
		st->svc->set_reason(h, "unknown kernel_keyring '%s' in profile '%s': use "
				    "'persistent', 'user' or 'session'", v,
				    st->svc->profile_name(h));
		return DBR_E_CONFIG;
	}
	return 0;
}

/* kernel_ttl: whole seconds, or terms of a number and s, m, h or d as the
 * official CLI writes durations (90m, 1h30m, 7d); 1 s to 30 days. */
static int ttl_from_config(struct kn_state *st, struct dbr_host *h, long *out)
{
	const char *v = st->svc->config_get(h, "kernel_ttl"), *p;
	long total = 0;

	*out = KN_TTL_DEFAULT;
	if (!v || !*v)
		return 0;
	for (p = v; *p;) {
		long n = 0, mult;

		if (*p < '0' || *p > '9')
			goto bad;
		for (; *p >= '0' && *p <= '9'; p++) {
			n = n * 10 + (*p - '0');
			if (n > KN_TTL_MAX)
				goto bad;
		}
		switch (*p) {
		case '\0': mult = p == v + strspn(v, "0123456789") ? 1 : 0; break;
		case 's': mult = 1; p++; break;
		case 'm': mult = 60; p++; break;
		case 'h': mult = 3600; p++; break;
		case 'd': mult = 86400; p++; break;
		default: goto bad;
		}
		/* a bare number only on its own: "1h30" is not a duration */
		if (!mult || n > (KN_TTL_MAX - total) / mult)
			goto bad;
		total += n * mult;
	}
	if (total < 1)
		goto bad;
	*out = total;
	return 0;
bad:
	st->svc->set_reason(h, "kernel_ttl '%s' is not a duration from 1s to 30d (e.g. 3600, "
			    "90m, 1h30m, 12h, 7d)", v);
	return DBR_E_CONFIG;
}

/* "HTTPS://H/" and "h" name the same workspace. */
static int same_host(const char *a, const char *b)
{
	size_t la, lb;

	if (strncasecmp(a, "https://", 8) == 0)
		a += 8;
	if (strncasecmp(b, "https://", 8) == 0)
		b += 8;
	for (la = strlen(a); la && a[la - 1] == '/'; la--)
		;
	for (lb = strlen(b); lb && b[lb - 1] == '/'; lb--)
		;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int kn_init(const struct dbr_host_services *svc, struct dbr_host *h, void **state)
{
	struct kn_state *st;

	*state = NULL;
	if (svc->abi_major != DBR_PROVIDER_ABI_MAJOR || !DBR_HOST_HAS(svc, secret_fill) ||
	    !DBR_HOST_HAS(svc, secret_bytes)) {
		svc->set_reason(h, "the host is older than this plugin (ABI %u.%u, the kernel "
				"provider needs %d.3: secret_fill)", svc->abi_major,
				svc->abi_minor, DBR_PROVIDER_ABI_MAJOR);
		return DBR_E_PLUGIN_ABI;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return DBR_E_NOMEM;
	st->svc = svc;
	*state = st;
	return 0;
}

/* The profile's key: the one for the profile's host when it names one,
 * else a live one, else a dead one. NULL when there is none. */
static const struct kn_entry *pick(const struct kn_entry *e, size_t n, const char *want,
				   const struct kn_entry **other)
{
	*other = NULL;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			if (want && !same_host(want, e[i].host)) {
				*other = &e[i];
				continue;
			}
			if (pass == 1 || !e[i].dead)
				return &e[i];
		}
	return NULL;
}

/* A client secret's key names its client id after the host: cut it off. */
static void split_client(struct kn_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *sep = strstr(e[i].host, KN_CLIENT_SEP);

		e[i].client_id[0] = '\0';
		if (sep) {
			snprintf(e[i].client_id, sizeof(e[i].client_id), "%s",
				 sep + strlen(KN_CLIENT_SEP));
			*sep = '\0';
		}
	}
}

/* The configured keyring and the profile's keys in it (KN_ENTRIES_MAX). */
static int profile_keys(struct kn_state *st, struct dbr_host *h, struct kn_keyring *ring,
			struct kn_entry *found, size_t *n)
{
	enum kn_ring kind;
	int rc;

	*n = 0;
	if ((rc = ring_from_config(st, h, &kind)) || (rc = kn_open(st, h, kind, ring)))
		return rc;
	rc = kn_list(st, h, ring, st->svc->profile_name(h), found, KN_ENTRIES_MAX, n);
	if (rc == 0)
		split_client(found, *n);
	return rc;
}

/* Remove the profile's keys from ring but keep (0: all of them), however
 * many there are: a listing sees KN_ENTRIES_MAX, so list again while it is
 * full (planted keys, or ones left by logins that raced). Adds the count
 * to *removed. */
static int remove_keys(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
		       key_serial_t keep, size_t *removed)
{
	struct kn_entry found[KN_ENTRIES_MAX];
	size_t n, before;
	int rc;

	do {
		before = *removed;
		rc = kn_list(st, h, ring, st->svc->profile_name(h), found, KN_ENTRIES_MAX, &n);
		for (size_t i = 0; rc == 0 && i < n; i++)
			if (found[i].id != keep && (rc = kn_remove(st, h, ring, &found[i])) == 0)
				(*removed)++;
	} while (rc == 0 && n == KN_ENTRIES_MAX && *removed > before);
	return rc;
}

static int kn_resolve(void *state, struct dbr_host *h)
{
	struct kn_state *st = state;
	const struct dbr_host_services *svc = st->svc;
	const char *profile = svc->profile_name(h), *want = svc->config_get(h, "host");
	struct kn_entry found[KN_ENTRIES_MAX];
	const struct kn_entry *e, *other;
	struct kn_keyring ring;
	struct dbr_secret *tok = NULL;
	char summary[400];
	size_t n;
	int rc;

	/* a key gone between listing and reading (a logout, or a login that
	 * replaced it: DBR_E_NOT_HERE) is looked for again, to find the new one */
	for (int tries = 0;; tries++) {
		if ((rc = profile_keys(st, h, &ring, found, &n)))
			return rc;
		e = pick(found, n, want && *want ? want : NULL, &other);
		if (!e && other) {
			svc->set_reason(h, "the kernel keyring's token for profile '%s' is for '%s', "
					"not for the profile's host '%s'", profile, other->host, want);
			return DBR_E_NOT_HERE;
		}
		if (!e) {
			svc->set_reason(h, "no token for profile '%s' in %s (store one with 'dbroker "
					"login --store kernel')", profile, kn_ring_name(ring.kind));
			return DBR_E_NOT_HERE;
		}
		if (e->dead)
			return kn_refused(st, h, e->dead, "reading the token");
		rc = kn_read(st, h, e->id, &tok);
		if (rc == 0)
			break;
		if (rc != DBR_E_NOT_HERE || tries == 2)
			return rc;
	}
	rc = svc->set_host_url(h, e->host);
	if (rc) {
		svc->secret_free(tok);
		return rc;
	}
	kn_key_summary(e->id, &ring, summary, sizeof(summary));
	svc->set_reason(h, "%s", summary);
	if (!e->client_id[0])
		return svc->set_token(h, tok);
	if (!DBR_HOST_HAS(svc, set_client)) {
		svc->secret_free(tok);
		svc->set_reason(h, "the key holds an OAuth client secret, which this dbroker is "
				"too old to use: upgrade it");
		return DBR_E_PLUGIN_ABI;
	}
	return svc->set_client(h, e->client_id, tok);
}

static int kn_store(void *state, struct dbr_host *h, const char *host_url,
		    const struct dbr_secret *token)
{
	struct kn_state *st = state;
	const struct dbr_host_services *svc = st->svc;
	const char *profile = svc->profile_name(h);
	struct kn_entry old[KN_ENTRIES_MAX];
	struct kn_keyring ring;
	char desc[KN_DESC_MAX], summary[400];
	const char *cid = DBR_HOST_HAS(svc, store_client_id) ? svc->store_client_id(h) : NULL;
	enum kn_ring kind;
	key_serial_t id;
	size_t n, extra = 0;
	long ttl;
	int rc, len;

	if (!host_url || !*host_url) {
		svc->set_reason(h, "no workspace host to store the token for");
		return DBR_E_INVAL;
	}
	if ((rc = ring_from_config(st, h, &kind)) || (rc = ttl_from_config(st, h, &ttl)))
		return rc;
	len = snprintf(desc, sizeof(desc), KN_PREFIX "%s:%s%s%s", profile, host_url,
		       cid ? KN_CLIENT_SEP : "", cid ? cid : "");
	if (len < 0 || (size_t)len >= sizeof(desc)) {
		svc->set_reason(h, "the profile name and host are too long for a key description "
				"(%d bytes at most)", KN_DESC_MAX - 1);
		return DBR_E_INVAL;
	}
	if ((rc = kn_open(st, h, kind, &ring)))
		return rc;
	if (ring.fell_back)
		svc->log(h, DBR_LOG_WARN, "this kernel has no persistent keyrings (EOPNOTSUPP): "
			 "the token goes to the user keyring, which the kernel drops when your "
			 "last process on this host ends");
	if ((rc = kn_list(st, h, &ring, profile, old, KN_ENTRIES_MAX, &n)) ||
	    (rc = kn_add(st, h, &ring, desc, token, ttl, old, n, &id)))
		return rc;
	/* more than one listing saw: the rest go too (one token per profile) */
	if (n == KN_ENTRIES_MAX && (rc = remove_keys(st, h, &ring, id, &extra)))
		return rc;
	kn_key_summary(id, &ring, summary, sizeof(summary));
	svc->set_reason(h, "%s", summary);
	return 0;
}

static int kn_erase(void *state, struct dbr_host *h)
{
	struct kn_state *st = state;
	const struct dbr_host_services *svc = st->svc;
	const char *profile = svc->profile_name(h);
	struct kn_keyring ring;
	enum kn_ring kind;
	size_t n = 0;
	int rc;

	if ((rc = ring_from_config(st, h, &kind)) || (rc = kn_open(st, h, kind, &ring)) ||
	    (rc = remove_keys(st, h, &ring, 0, &n)))
		return rc;
	if (n == 0) {
		svc->set_reason(h, "no token for profile '%s' was in %s", profile,
				kn_ring_name(ring.kind));
		return DBR_E_NOT_HERE;
	}
	svc->set_reason(h, "%zu key%s unlinked from %s and invalidated", n, n == 1 ? "" : "s",
			kn_ring_name(ring.kind));
	return 0;
}

static void kn_fini(void *state)
{
	free(state);
}

static const struct dbr_provider kn_provider = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "kernel",
	.description = "the Linux kernel keyring (keyctl; no D-Bus needed)",
	.init = kn_init,
	.resolve = kn_resolve,
	.store = kn_store,
	.erase = kn_erase,
	.fini = kn_fini,
};

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_kernel(void);

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_kernel(void)
{
	return &kn_provider;
}
