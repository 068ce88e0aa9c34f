/* What the kernel said, in words: refusals named with what to do next, and
 * a key's id, expiry and permissions for `dbroker auth describe`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_internal.h"

#define KN_OTHER_STORE "keep the token in another store (Vault, DATABRICKS_TOKEN, the " \
	"desktop keyring) and leave 'kernel' out of the chain (--chain, broker_chain)"

const char *kn_ring_name(enum kn_ring r)
{
	switch (r) {
	case KN_USER: return "the user keyring";
	case KN_SESSION: return "the session keyring";
	default: return "the persistent keyring";
	}
}

int kn_refused(struct kn_state *st, struct dbr_host *h, int e, const char *what)
{
	const struct dbr_host_services *svc = st->svc;
	const char *profile = svc->profile_name(h);
	const char *name = strerrorname_np(e);

	if (!name)
		name = "unknown errno";
	switch (e) {
	case EKEYEXPIRED:
		svc->set_reason(h, "the token for profile '%s' in the kernel keyring has expired: "
				"log in again (dbroker login --store kernel)", profile);
		return DBR_E_NOT_HERE;
	case ENOKEY:
		/* invalidated after it was listed: a logout, or a login that
		 * replaced it, came first */
		svc->set_reason(h, "the token for profile '%s' left the kernel keyring while %s "
				"(ENOKEY: a logout or another login at the same moment)", profile, what);
		return DBR_E_NOT_HERE;
	case EKEYREVOKED:
		svc->set_reason(h, "the token for profile '%s' in the kernel keyring was revoked "
				"(EKEYREVOKED while %s): dbroker will neither use it nor fall back to "
				"another source; remove it with 'dbroker logout --store kernel' and "
				"log in again", profile, what);
		return DBR_E_PROVIDER;
	case ENOSYS:
	case EPERM:
		svc->set_reason(h, "the kernel refused the keyring while %s (%s): a seccomp filter "
				"blocks its system calls (the default profiles of Docker and Podman "
				"block keyctl and add_key)%s; allow keyctl and add_key, or "
				KN_OTHER_STORE, what, name,
				e == ENOSYS ? ", or this kernel was built without keyrings" : "");
		return DBR_E_PROVIDER;
	case EDQUOT:
		svc->set_reason(h, "the kernel's key quota for uid %u is full (EDQUOT while %s; "
				"limits in /proc/sys/kernel/keys/maxkeys and maxbytes, use in "
				"/proc/key-users): unlink keys you no longer need (keyctl show; "
				"/proc/keys lists yours) or ask root to raise the limits",
				(unsigned)getuid(), what);
		return DBR_E_PROVIDER;
	case EACCES:
		svc->set_reason(h, "the kernel denied access while %s (EACCES): the key's "
				"permissions or a security module forbid it (keyctl rdescribe shows "
				"a key's permissions); remove it with 'dbroker logout --store kernel' "
				"and log in again", what);
		return DBR_E_PROVIDER;
	case ENOMEM:
		svc->set_reason(h, "the kernel is out of memory while %s", what);
		return DBR_E_NOMEM;
	default:
		svc->set_reason(h, "the kernel refused the keyring while %s: %s (%s)", what,
				strerror(e), name);
		return DBR_E_PROVIDER;
	}
}

/* The next blank-separated field of *p (advanced past it), NUL-ended in
 * place; NULL at the end of the line. */
static char *field(char **p)
{
	char *s = *p, *start;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return NULL;
	start = s;
	while (*s && *s != ' ' && *s != '\n')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return start;
}

/* A line of /proc/keys: "%08x flags usage expiry perm uid gid type desc",
 * where a user key's desc ends in ": <payload length>" while it has one. */
int kn_proc_keys(key_serial_t id, const char *type, char *desc, size_t dcap, char *expiry,
		 size_t ecap)
{
	FILE *f = fopen("/proc/keys", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	if (!f)
		return -1;
	while (rc && getline(&line, &cap, f) > 0) {
		char *p = line, *tok[8], *end;
		size_t n;
		int i;

		for (i = 0; i < 8 && (tok[i] = field(&p)); i++)
			;
		if (i < 8 || strtoul(tok[0], &end, 16) != (unsigned long)(uint32_t)id || *end)
			continue;
		if (type && strcmp(tok[7], type) != 0)
			break;
		while (*p == ' ')
			p++;
		n = strcspn(p, "\n");
		p[n] = '\0';
		/* drop ": <digits>" */
		end = strrchr(p, ':');
		if (end && end[1] == ' ' && end[2] && strspn(end + 2, "0123456789") == strlen(end + 2))
			*end = '\0';
		if (desc)
			snprintf(desc, dcap, "%s", p);
		if (expiry)
			snprintf(expiry, ecap, "%s", tok[3]);
		rc = 0;
	}
	free(line);
	fclose(f);
	return rc;
}

/* "alswrv" of one permission byte, or "-". */
static void perm_letters(unsigned bits, char out[8])
{
	static const char letters[] = "alswrv";
	size_t n = 0;

	for (int i = 0; i < 6; i++)
		if (bits & (0x20u >> i))
			out[n++] = letters[i];
	if (!n)
		out[n++] = '-';
	out[n] = '\0';
}

void kn_key_summary(key_serial_t id, const struct kn_keyring *ring, char *out, size_t cap)
{
	char *d = NULL, expiry[32] = "", when[64], p[4][8];
	unsigned long perm = 0;
	int have_perm = 0;

	/* "user;uid;gid;perm;description" */
	if (keyctl_describe_alloc(id, &d) >= 0 && d) {
		char *s = d;

		for (int i = 0; i < 3 && s; i++) {
			s = strchr(s, ';');
			if (s)
				s++;
		}
		if (s) {
			perm = strtoul(s, NULL, 16);
			have_perm = 1;
		}
		free(d);
	}
	if (kn_proc_keys(id, NULL, NULL, 0, expiry, sizeof(expiry)) != 0)
		snprintf(when, sizeof(when), "expiry unknown (no /proc/keys)");
	else if (strcmp(expiry, "perm") == 0)
		snprintf(when, sizeof(when), "no expiry");
	else if (strcmp(expiry, "expd") == 0)
		snprintf(when, sizeof(when), "expired");
	else
		snprintf(when, sizeof(when), "expires in %s", expiry);
	if (!have_perm) {
		snprintf(out, cap, "key %d in %s%s, %s", (int)id, kn_ring_name(ring->kind),
			 ring->fell_back ? " (no persistent keyrings here)" : "", when);
		return;
	}
	for (int i = 0; i < 4; i++)
		perm_letters((unsigned)(perm >> (24 - 8 * i)) & 0x3f, p[i]);
	snprintf(out, cap, "key %d in %s%s, %s, permissions possessor %s, user %s, group %s, "
		 "other %s", (int)id, kn_ring_name(ring->kind),
		 ring->fell_back ? " (no persistent keyrings here)" : "", when, p[0], p[1], p[2],
		 p[3]);
}
