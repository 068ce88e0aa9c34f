/* The kernel keyring provider's shared state and its modules:
 *   kernel.c       descriptor, configuration, resolve, store, erase
 *   kernel_keys.c  the keyrings and keys: open, list, read, add, remove
 *   kernel_info.c  what the kernel said: refusals named, permissions and
 *                  expiry for auth describe (/proc/keys)
 *
 * Tokens are `user` keys described "dbroker:<profile>:<host>" (a service
 * principal's client secret: "dbroker:<profile>:<host> client_id=<id>") in the
 * user's persistent keyring (or, by kernel_keyring in the profile, the user
 * or session keyring). The token's bytes pass from a secret handle to
 * add_key() and from keyctl_read() into a secret handle filled in place
 * (secret_fill): the plugin holds no copy. */
#ifndef DBR_KERNEL_INTERNAL_H
#define DBR_KERNEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <keyutils.h>

#include "dbroker/provider.h"

#define KN_PREFIX "dbroker:"
#define KN_DESC_MAX 4096     /* the kernel's limit on a description */
#define KN_ENTRIES_MAX 16    /* keys of one profile looked at */
#define KN_TTL_DEFAULT (12L * 3600)
#define KN_TTL_MAX (30L * 24 * 3600)
/* possessor: view, read, write, search, link, setattr; user: view (it may
 * see that the key exists, not read it); group, other: nothing */
#define KN_PERM (KEY_POS_ALL | KEY_USR_VIEW)

struct kn_state {
	const struct dbr_host_services *svc;
};

/* Which keyring holds the tokens (kernel_keyring in the profile). */
enum kn_ring { KN_PERSISTENT, KN_USER, KN_SESSION };

struct kn_keyring {
	key_serial_t id;
	enum kn_ring kind;  /* what it is: KN_USER after a fallback */
	int fell_back;      /* no persistent keyrings in this kernel */
};

/* One dbroker key of a profile found in a keyring. */
struct kn_entry {
	key_serial_t id;
	int dead;           /* 0, EKEYEXPIRED or EKEYREVOKED */
	char host[512];     /* the description after "dbroker:<profile>:" */
	char client_id[260];/* a client secret's client id (cut from host), or "" */
};

/* kernel_keys.c */

/* Open the keyring of kind want (persistent: linked into this process's
 * keyring, which gives possession and goes away with the process; falls
 * back to the user keyring, with a warning, where the kernel has no
 * persistent keyrings). A session keyring that belongs to another uid (su
 * and sudo keep the caller's) is refused: DBR_E_PROVIDER. Returns 0 or an
 * error with the reason set. */
int kn_open(struct kn_state *st, struct dbr_host *h, enum kn_ring want,
	    struct kn_keyring *out);

/* The keys "dbroker:<profile>:<host>" directly in ring, live and dead
 * (expired or revoked keys are named from /proc/keys); not those of a
 * profile whose name extends this one's ("<profile>:y"). Returns 0 with *n
 * set (at most max), or an error with the reason set. */
int kn_list(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	    const char *profile, struct kn_entry *out, size_t max, size_t *n);

/* Read key id straight into a new secret handle (secret_fill). Returns 0
 * with *out set (caller owns it), DBR_E_NOT_HERE for an empty or expired
 * key, or an error with the reason set. */
int kn_read(struct kn_state *st, struct dbr_host *h, key_serial_t id,
	    struct dbr_secret **out);

/* Store token as "desc" in ring with KN_PERM and a timeout of ttl seconds,
 * replacing the keys in old[0..n_old) (invalidated once the new key is in
 * ring: when the kernel refuses it, they stay). The key is set up in this
 * process's keyring first and linked into ring only when complete.
 * Returns 0 with *id set, or an error with the reason set. */
int kn_add(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	   const char *desc, const struct dbr_secret *token, long ttl,
	   const struct kn_entry *old, size_t n_old, key_serial_t *id);

/* Invalidate (when live) and unlink e from ring. Returns 0 or an error
 * with the reason set. */
int kn_remove(struct kn_state *st, struct dbr_host *h, const struct kn_keyring *ring,
	      const struct kn_entry *e);

/* kernel_info.c */

/* The kernel refused what ("reading the token", ...) with errno e: the
 * reason names the refusal and what to do. Returns the code: DBR_E_NOT_HERE
 * for an expired key or one gone (invalidated) since it was listed,
 * DBR_E_NOMEM, else DBR_E_PROVIDER (fail closed). */
int kn_refused(struct kn_state *st, struct dbr_host *h, int e, const char *what);

/* "the persistent keyring", "the user keyring", "the session keyring". */
const char *kn_ring_name(enum kn_ring r);

/* "key 123 in the persistent keyring, expires in 11h, permissions
 * possessor alswrv, user v, group -, other -" into out (never secret). */
void kn_key_summary(key_serial_t id, const struct kn_keyring *ring, char *out, size_t cap);

/* The description and expiry ("11h", "expd", "perm") of key id as
 * /proc/keys shows it. Returns 0, or -1 when it is not listed or (type not
 * NULL) is a key of another type. */
int kn_proc_keys(key_serial_t id, const char *type, char *desc, size_t dcap, char *expiry,
		 size_t ecap);

#endif
