/* The keyrings and the keys in them, through libkeyutils. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_internal.h"

/* The owner uid of key id (keyctl describe: "type;uid;gid;perm;desc"), or
 * -1 when the kernel does not say (errno set). */
static long key_owner(key_serial_t id)
{
	char *d = NULL, *p, *end;
	long uid = -1;

	if (keyctl_describe_alloc(id, &d) < 0 || !d)
		return -1;
	p = strchr(d, ';');
	if (p) {
		errno = 0;
		uid = strtol(p + 1, &end, 10);
		if (errno || end == p + 1 || *end != ';')
			uid = -1;
	}
	free(d);
	if (uid < 0)
		errno = EINVAL;
	return uid;
}

/* A session keyring is inherited across su and sudo (without pam_keyinit):
 * then it belongs to the user who started the session, whose processes
 * possess everything in it. Use only our own. */
static int session_is_ours(struct kn_state *st, struct dbr_host *h, key_serial_t id)
{
	long uid = key_owner(id);

	if (uid < 0)
		return kn_refused(st, h, errno, "examining the session keyring");
	if ((uid_t)uid == geteuid())
		return 0;
	st->svc->set_reason(h, "the session keyring (key %d) belongs to uid %ld, not to you "
			    "(uid %u): this session was started by another user (su or sudo keep "
			    "the caller's session keyring), whose processes could read a token "
			    "stored in it or plant one; start a session keyring of your own "
			    "('keyctl new_session', or 'su -l'/'sudo -i'), or use the persistent "
			    "keyring (kernel_keyring = persistent, login without --session)",
			    (int)id, uid, (unsigned)geteuid());
	return DBR_E_PROVIDER;
}

int kn_open(struct kn_state *st, struct dbr_host *h, enum kn_ring want,
	    struct kn_keyring *out)
{
	long id = -1;

	memset(out, 0, sizeof(*out));
	out->kind = want;
	if (want == KN_PERSISTENT) {
		/* linked into this process's keyring: possession for this run,
		 * gone when the process ends (the session is left as it was) */
		id = keyctl_get_persistent((uid_t)-1, KEY_SPEC_PROCESS_KEYRING);
		if (id >= 0) {
			out->id = (key_serial_t)id;
			return 0;
		}
		if (errno != EOPNOTSUPP)
			return kn_refused(st, h, errno, "opening the persistent keyring");
		st->svc->log(h, DBR_LOG_DEBUG, "no persistent keyrings in this kernel "
			     "(EOPNOTSUPP): using the user keyring");
		out->fell_back = 1;
		out->kind = KN_USER;
	}
	if (out->kind == KN_USER) {
		/* its keys are ours to read only when it hangs below one of
		 * this process's keyrings: a session keyring made without
		 * pam_keyinit (keyctl new_session, sudo) does not link it */
		id = keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1);
		if (id >= 0 && keyctl_link((key_serial_t)id, KEY_SPEC_PROCESS_KEYRING) < 0)
			return kn_refused(st, h, errno, "opening the user keyring");
	} else if (out->kind == KN_SESSION)
		/* without a session keyring of its own (no pam_keyinit) a
		 * process has the user-session keyring; never make one that
		 * would end with this process */
		id = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	if (id < 0)
		return kn_refused(st, h, errno, out->kind == KN_USER ? "opening the user keyring"
				  : "opening the session keyring");
	if (out->kind == KN_SESSION) {
		int rc = session_is_ours(st, h, (key_serial_t)id);

		if (rc)
			return rc;
	}
	out->id = (key_serial_t)id;
	return 0;
}

/* "dbroker:<profile>:" into buf; 0, or -1 when it does not fit. */
static int make_prefix(const char *profile, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, KN_PREFIX "%s:", profile);

	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Whether rest, what follows "dbroker:<profile>:" in a description, is this
 * profile's host: "https://h" is, "y:https://h" (profile "<profile>:y", whose
 * prefix extends ours) is not. Only a URL scheme may come before "://". */
static int rest_is_ours(const char *rest)
{
	const char *sep = strstr(rest, "://");

	if (!sep)
		return 1;
	if (sep == rest)
		return 0;
	for (const char *p = rest; p < sep; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
			return 0;
	return 1;
}

static void add_entry(struct kn_entry *out, size_t max, size_t *n, key_serial_t id, int dead,
		      const char *host)
{
	if (*n >= max)
		return;
	out[*n].id = id;
	out[*n].dead = dead;
	snprintf(out[*n].host, sizeof(out[*n].host), "%s", host);
	(*n)++;
}

int kn_list(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	    const char *profile, struct kn_entry *out, size_t max, size_t *n)
{
	char prefix[KN_DESC_MAX], desc[KN_DESC_MAX];
	void *buf = NULL;
	key_serial_t *ids;
	size_t plen;
	long len;

	*n = 0;
	if (make_prefix(profile, prefix, sizeof(prefix))) {
		st->svc->set_reason(h, "the profile name is too long for a key description");
		return DBR_E_CONFIG;
	}
	plen = strlen(prefix);
	len = keyctl_read_alloc(ring->id, &buf);
	if (len < 0)
		return kn_refused(st, h, errno, "listing the keyring");
	ids = buf;
	for (size_t i = 0; i < (size_t)len / sizeof(*ids); i++) {
		char *d = NULL, *p;

		if (keyctl_describe_alloc(ids[i], &d) >= 0 && d) {
			/* "type;uid;gid;perm;description" */
			p = d;
			for (int f = 0; f < 4 && p; f++) {
				p = strchr(p, ';');
				if (p)
					p++;
			}
			if (p && strncmp(d, "user;", 5) == 0 && strncmp(p, prefix, plen) == 0 &&
			    rest_is_ours(p + plen))
				add_entry(out, max, n, ids[i], 0, p + plen);
			free(d);
		} else if (errno == EKEYEXPIRED || errno == EKEYREVOKED) {
			/* the kernel no longer describes a dead key; /proc/keys does
			 * (a user key's only: a dead keyring or logon key of this
			 * description is not a token, as a live one is not) */
			int dead = errno;

			if (kn_proc_keys(ids[i], "user", desc, sizeof(desc), NULL, 0) == 0 &&
			    strncmp(desc, prefix, plen) == 0 && rest_is_ours(desc + plen))
				add_entry(out, max, n, ids[i], dead, desc + plen);
		}
		/* anything else (another owner's key we may not view) is not ours */
	}
	free(buf);
	return 0;
}

struct read_ctx {
	key_serial_t id;
	long need; /* the key grew between sizing and reading */
	int err;
};

/* keyctl_read straight into the handle's secure memory. */
static int read_fill(void *ctx, unsigned char *buf, size_t cap, size_t *len)
{
	struct read_ctx *c = ctx;
	long got = keyctl_read(c->id, (char *)buf, cap);

	if (got < 0) {
		c->err = errno;
		return DBR_E_IO;
	}
	if ((size_t)got > cap) {
		c->need = got;
		return DBR_E_TOO_LARGE;
	}
	*len = (size_t)got;
	return 0;
}

int kn_read(struct kn_state *st, struct dbr_host *h, key_serial_t id,
	    struct dbr_secret **out)
{
	struct read_ctx c = { id, 0, 0 };
	long need;
	int rc;

	*out = NULL;
	/* the size first: no buffer, no bytes */
	need = keyctl_read(id, NULL, 0);
	if (need < 0)
		return kn_refused(st, h, errno, "reading the token");
	for (int tries = 0; tries < 3; tries++) {
		if (need == 0) {
			st->svc->set_reason(h, "key %d for profile '%s' is empty: log in again "
					    "(dbroker login --store kernel)", (int)id,
					    st->svc->profile_name(h));
			return DBR_E_NOT_HERE;
		}
		rc = st->svc->secret_fill((size_t)need, read_fill, &c, out);
		if (rc == DBR_E_IO)
			return kn_refused(st, h, c.err, "reading the token");
		if (rc != DBR_E_TOO_LARGE || !c.need) {
			if (rc != DBR_E_TOO_LARGE)
				return rc;
			/* a provider that cannot serve, not a size the server refused */
			st->svc->set_reason(h, "key %d holds %ld bytes, more than any token: "
					    "it is not one dbroker stored; remove it with "
					    "'dbroker logout --store kernel'", (int)id, need);
			return DBR_E_PROVIDER;
		}
		need = c.need; /* updated between the two reads: again */
		c.need = 0;
	}
	st->svc->set_reason(h, "key %d kept changing while it was read: run again", (int)id);
	return DBR_E_PROVIDER;
}

int kn_add(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	   const char *desc, const struct dbr_secret *token, long ttl,
	   const struct kn_entry *old, size_t n_old, key_serial_t *id)
{
	const unsigned char *bytes = st->svc->secret_bytes(h, token);
	size_t len = st->svc->secret_len(token);
	void *buf = NULL;
	key_serial_t k, hold;
	long linked;
	int e;

	if (!bytes || !len) {
		st->svc->set_reason(h, "no token to store");
		return DBR_E_INVAL;
	}
	/* set up in this process's keyring, where nobody else looks, and
	 * shown in ring only once its permissions and expiry are in place */
	k = add_key("user", desc, bytes, len, KEY_SPEC_PROCESS_KEYRING);
	if (k < 0)
		return kn_refused(st, h, errno, "storing the token");
	if (keyctl_setperm(k, KN_PERM) < 0 || keyctl_set_timeout(k, (unsigned)ttl) < 0) {
		e = errno;
		keyctl_invalidate(k);
		return kn_refused(st, h, e, "setting the token's permissions and expiry");
	}
	/* invalidating a key takes possession, which the new key ends for the
	 * old one of its description when it displaces it from ring: the live
	 * old keys are held in a keyring of this process meanwhile (where the
	 * quota has no room for that, the displaced one only leaves ring: it
	 * is not destroyed before the new one is in) */
	hold = add_key("keyring", KN_PREFIX "replacing", NULL, 0, KEY_SPEC_PROCESS_KEYRING);
	for (size_t i = 0; hold >= 0 && i < n_old; i++)
		if (!old[i].dead)
			keyctl_link(old[i].id, hold);
	/* the new key in first: a refused link (EDQUOT) leaves the old token
	 * in place, and a reader never finds the profile without a key */
	if (keyctl_link(k, ring->id) < 0) {
		e = errno;
		keyctl_invalidate(k);
		if (hold >= 0)
			keyctl_unlink(hold, KEY_SPEC_PROCESS_KEYRING);
		return kn_refused(st, h, e, "linking the token into the keyring");
	}
	keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	/* one token per profile: the old ones die everywhere they are linked;
	 * those still in ring (another host) leave it by id (WARNING: the
	 * kernel unlinks by type and description, so unlinking the displaced
	 * one would unlink the new key) */
	linked = keyctl_read_alloc(ring->id, &buf);
	for (size_t i = 0; i < n_old; i++) {
		if (!old[i].dead)
			keyctl_invalidate(old[i].id);
		for (long j = 0; buf && j < linked / (long)sizeof(key_serial_t); j++)
			if (((key_serial_t *)buf)[j] == old[i].id)
				keyctl_unlink(old[i].id, ring->id);
	}
	free(buf);
	if (hold >= 0)
		keyctl_unlink(hold, KEY_SPEC_PROCESS_KEYRING);
	*id = k;
	return 0;
}

int kn_remove(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	      const struct kn_entry *e)
{
	/* invalidate first, while ring (possessed) makes it ours to touch */
	if (!e->dead && keyctl_invalidate(e->id) < 0 && errno != EKEYEXPIRED &&
	    errno != EKEYREVOKED && errno != ENOKEY)
		return kn_refused(st, h, errno, "invalidating the token");
	if (keyctl_unlink(e->id, ring->id) < 0 && errno != ENOENT && errno != ENOKEY)
		return kn_refused(st, h, errno, "unlinking the token");
	return 0;
}
