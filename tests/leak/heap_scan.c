/* heap_scan: drive libdbroker through resolve + cluster create + teardown,
 * then search this process's own readable+writable memory for the canaries.
 * Run by tests/leak/test_leak.py; see there for the environment it gets.
 *
 *   heap_scan CHAIN CA_FILE
 *
 * CHAIN is the credential chain ("env", "vault", "keyring", "kernel"); the profile,
 * host and token come from the environment and HOME as for the dbroker
 * command (never from argv). The needles arrive masked:
 *   DBR_LEAK_MASK     hex of a mask (no zero byte), as long as the longest needle
 *   DBR_LEAK_NEEDLES  comma-separated hex of needle XOR mask[0..len)
 *   DBR_LEAK_PLANT    index of the needle the self-check plants (the raw canary)
 * so that no plaintext copy exists in this process except the ones the
 * library makes. Matching XORs on the fly; a hit is reported by needle index,
 * address and mapping, never by its bytes.
 *
 * Checks, in order (exit 0 only if all pass):
 *   0. copies that exist when main() starts, outside the environment block,
 *      are the runtime's (ASan's copy of /proc/self/environ): left out under
 *      ASan, a failure otherwise;
 *   1. after dbr_harden_process, dbr_harden_drop_core_limit and dbr_runtime_init:
 *      not dumpable, RLIMIT_CORE 0/0;
 *   2. self-check: the planted canary is found at its address, then wiped;
 *   3. with the credential held: still not dumpable, core limit 0/0, and the
 *      scan sees the token (so it reaches the memory where secrets live);
 *   4. after a cluster create/get/list/delete, a call that fails on purpose
 *      and teardown (every dbr_*_free, dbr_runtime_cleanup): no needle anywhere;
 *   5. self-check again: plant, find, wipe, and the scan is clean. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dbroker/dbroker.h"

#if defined(__SANITIZE_ADDRESS__)
#define DBR_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DBR_HAVE_ASAN 1
#endif
#endif
#ifdef DBR_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define MAX_NEEDLES 64
#define MAX_NEEDLE 256
#define CHUNK (1u << 20)
#define MAX_MAPS 4096
#define MAX_PREMAIN 16

struct needle {
	unsigned char masked[MAX_NEEDLE];
	size_t len;
};

struct mapping {
	uintptr_t start, end;
	char desc[160];
};

static struct needle needles[MAX_NEEDLES];
static size_t n_needles;
static unsigned char mask[MAX_NEEDLE];
static size_t mask_len;
static unsigned char first[256]; /* 1 for a byte value some needle starts with */
static unsigned char *scratch; /* mmap'ed, CHUNK + MAX_NEEDLE; excluded, wiped */
static struct mapping maps[MAX_MAPS];
static int failures;

static void fail(const char *what)
{
	fprintf(stderr, "heap_scan: FAIL: %s\n", what);
	failures++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex s[0..n) into out (cap bytes). Returns the length or -1. */
static long unhex(const char *s, size_t n, unsigned char *out, size_t cap)
{
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

static int load_needles(void)
{
	const char *m = getenv("DBR_LEAK_MASK"), *l = getenv("DBR_LEAK_NEEDLES");
	long len;

	if (!m || !l)
		return -1;
	len = unhex(m, strlen(m), mask, sizeof(mask));
	if (len <= 0)
		return -1;
	mask_len = (size_t)len;
	for (size_t i = 0; i < mask_len; i++)
		if (!mask[i])
			return -1; /* a zero byte would leave plaintext in the masked form */
	while (*l) {
		size_t n = strcspn(l, ",");

		if (n_needles == MAX_NEEDLES)
			return -1;
		len = unhex(l, n, needles[n_needles].masked, mask_len);
		if (len < 8)
			return -1;
		first[needles[n_needles].masked[0] ^ mask[0]] = 1;
		needles[n_needles++].len = (size_t)len;
		l += n;
		if (*l == ',')
			l++;
	}
	return n_needles ? 0 : -1;
}

static int matches(const unsigned char *p, const struct needle *n)
{
	for (size_t i = 0; i < n->len; i++)
		if ((unsigned char)(p[i] ^ mask[i]) != n->masked[i])
			return 0;
	return 1;
}

/* The rw mappings with resident (or swapped) pages, from /proc/self/smaps,
 * read in full before scanning. ASan's shadow memory holds poison marks,
 * never data: it is left out (and would take hours to read). */
static size_t read_maps(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	size_t n = 0;
	int open_entry = 0; /* maps[n] is being filled */
	unsigned long rss = 0, swap = 0;
#ifdef DBR_HAVE_ASAN
	size_t scale = 0, offset = 0;
	uintptr_t shadow_lo, shadow_hi;

	__asan_get_shadow_mapping(&scale, &offset);
	shadow_lo = (uintptr_t)offset;
	shadow_hi = (uintptr_t)(((uintptr_t)0x7fffffffffffull >> scale) + offset);
#endif

	if (!f) {
		fail("cannot read /proc/self/smaps");
		return 0;
	}
	for (;;) {
		unsigned long long a, b, v;
		char perms[8];
		int off = 0, eof = !fgets(line, sizeof(line), f);
		int header = !eof && sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &a, &b, perms,
					    &off) == 3 && off > 0;

		if (eof || header) {
			/* a mapping with nothing resident holds nothing to find */
			if (open_entry && rss + swap > 0)
				n++;
			open_entry = 0;
			rss = swap = 0;
		}
		if (eof)
			break;
		if (!header) {
			if (sscanf(line, "Rss: %llu kB", &v) == 1)
				rss = (unsigned long)v;
			else if (sscanf(line, "Swap: %llu kB", &v) == 1)
				swap = (unsigned long)v;
			continue;
		}
		if (perms[0] != 'r' || perms[1] != 'w')
			continue;
		if (n == MAX_MAPS) {
			fail("too many mappings to scan");
			break;
		}
#ifdef DBR_HAVE_ASAN
		if (a >= shadow_lo && b <= shadow_hi + 1)
			continue;
#endif
		maps[n].start = (uintptr_t)a;
		maps[n].end = (uintptr_t)b;
		{
			const char *d = line + off;

			while (*d == ' ')
				d++;
			snprintf(maps[n].desc, sizeof(maps[n].desc), "%s", d);
			maps[n].desc[strcspn(maps[n].desc, "\n")] = '\0';
		}
		open_entry = 1;
	}
	fclose(f);
	return n;
}

struct hits {
	size_t count;
	int found_at; /* 1 if a hit was at want */
	uintptr_t want;
	uintptr_t addr[MAX_PREMAIN]; /* the first hits */
	size_t bytes, nmaps; /* how much was read */
};

/* Copies that existed when main() started, outside the environment block:
 * made by the runtime from the initial environment before any dbroker code
 * ran (ASan keeps one: sanitizer_common reads /proc/self/environ into its own
 * memory at start-up to answer GetEnv). Left out of the later scans. */
static uintptr_t premain[MAX_PREMAIN];
static size_t n_premain;

static void report(struct hits *h, size_t ni, uintptr_t addr, const struct mapping *m,
		   const char *tag)
{
	for (size_t i = 0; i < n_premain; i++)
		if (addr == premain[i])
			return;
	if (h->count < MAX_PREMAIN)
		h->addr[h->count] = addr;
	h->count++;
	if (addr == h->want)
		h->found_at = 1;
	if (tag)
		fprintf(stderr, "heap_scan: %s: needle %zu at %#" PRIxPTR " (+%#" PRIxPTR
			" in %#" PRIxPTR "-%#" PRIxPTR " %s)\n", tag, ni, addr, addr - m->start,
			m->start, m->end, m->desc[0] ? m->desc : "[anon]");
}

/* Scan every rw mapping through /proc/self/mem (a page we cannot read is
 * skipped instead of faulting; ASan never sees the reads). Each hit is
 * printed after tag, unless tag is NULL. */
static struct hits scan(uintptr_t want, const char *tag)
{
	struct hits h = { 0, 0, want, { 0 }, 0, 0 };
	uintptr_t s_lo = (uintptr_t)scratch, s_hi = s_lo + CHUNK + MAX_NEEDLE;
	size_t nmaps = read_maps();
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	long page = sysconf(_SC_PAGESIZE);

	h.nmaps = nmaps;
	if (fd < 0) {
		fail("cannot open /proc/self/mem");
		return h;
	}
	for (size_t mi = 0; mi < nmaps; mi++) {
		const struct mapping *m = &maps[mi];

		for (uintptr_t at = m->start; at < m->end; at += CHUNK) {
			size_t want_len = m->end - at, got = 0;

			if (want_len > CHUNK + mask_len - 1)
				want_len = CHUNK + mask_len - 1;
			/* page by page where a whole read fails */
			while (got < want_len) {
				ssize_t r = pread(fd, scratch + got, want_len - got, (off_t)(at + got));

				if (r > 0) {
					got += (size_t)r;
					continue;
				}
				{
					size_t step = (size_t)page - ((at + got) % (size_t)page);

					if (step > want_len - got)
						step = want_len - got;
					memset(scratch + got, 0, step);
					got += step;
				}
			}
			h.bytes += want_len < CHUNK ? want_len : CHUNK;
			for (size_t i = 0; i < CHUNK && i < want_len; i++) {
				uintptr_t addr = at + i;

				if (!first[scratch[i]])
					continue;
				if (addr >= s_lo && addr < s_hi)
					continue; /* the scratch buffer: copies only */
				for (size_t ni = 0; ni < n_needles; ni++) {
					const struct needle *nd = &needles[ni];

					if (i + nd->len <= want_len &&
					    (unsigned char)(scratch[i] ^ mask[0]) == nd->masked[0] &&
					    matches(scratch + i, nd))
						report(&h, ni, addr, m, tag);
				}
			}
			explicit_bzero(scratch, CHUNK + MAX_NEEDLE);
		}
	}
	close(fd);
	return h;
}

/* Plant needle idx on the heap (decoded in place, unaligned), check the
 * scanner finds it there, wipe and free it. */
static void self_check(size_t idx, const char *when)
{
	const struct needle *nd = &needles[idx];
	unsigned char *buf = malloc(nd->len + 16);
	struct hits h;
	char msg[160];

	if (!buf) {
		fail("out of memory");
		return;
	}
	for (size_t i = 0; i < nd->len; i++)
		buf[7 + i] = (unsigned char)(nd->masked[i] ^ mask[i]);
	h = scan((uintptr_t)(buf + 7), NULL);
	explicit_bzero(buf, nd->len + 16);
	free(buf);
	if (!h.found_at) {
		snprintf(msg, sizeof(msg), "self-check %s: the planted canary was not found", when);
		fail(msg);
	} else {
		fprintf(stderr, "heap_scan: self-check %s: planted canary found (%zu hit(s))\n",
			when, h.count);
	}
}

static void check_hardening(const char *when)
{
	struct rlimit rl;
	char msg[160];

	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(msg, sizeof(msg), "%s: the process is dumpable", when);
		fail(msg);
	}
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0) {
		snprintf(msg, sizeof(msg), "%s: RLIMIT_CORE is not 0/0", when);
		fail(msg);
	}
}

/* Where the initial environment strings are, before anything can change
 * environ: copies there are the library's to wipe (the env provider does). */
static uintptr_t env_lo, env_hi;

static void snapshot_environment(void)
{
	extern char **environ;

	for (char **e = environ; e && *e; e++) {
		uintptr_t lo = (uintptr_t)*e, hi = lo + strlen(*e) + 1;

		if (!env_lo || lo < env_lo)
			env_lo = lo;
		if (hi > env_hi)
			env_hi = hi;
	}
}

static void find_premain_copies(void)
{
	struct hits h = scan(0, NULL);

	for (size_t i = 0; i < h.count && i < MAX_PREMAIN; i++) {
		if (h.addr[i] >= env_lo && h.addr[i] < env_hi)
			continue;
		premain[n_premain++] = h.addr[i];
	}
	if (n_premain) {
		fprintf(stderr, "heap_scan: %zu copy(ies) made from the environment before main() "
			"(the sanitizer runtime's) left out\n", n_premain);
#ifndef DBR_HAVE_ASAN
		fail("copies of the canary outside the environment before main()");
#endif
	}
}

static int step(int rc, const char *what, const struct dbr_err *err)
{
	if (rc)
		fprintf(stderr, "heap_scan: %s failed (%d): %s\n", what, rc, err->msg);
	return rc;
}

/* Resolve, create a cluster, read it back, list, delete, fail one call on
 * purpose (an error answer goes through the error parser), tear down. */
static int exercise(const char *chain_spec, const char *ca_file)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_mask *mask_ = NULL;
	struct dbr_log *log = NULL;
	struct dbr_config *cfg = NULL;
	struct dbr_chain *chain = NULL;
	struct dbr_credential *cred = NULL;
	struct dbr_client *client = NULL;
	struct dbr_cluster_spec *spec = NULL;
	struct dbr_cluster_info info;
	struct dbr_chain_options copt = { 0 };
	struct dbr_client_options opt;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	char *json = NULL;
	int rc;

	copt.spec = chain_spec;
	memset(&opt, 0, sizeof(opt));
	opt.struct_size = sizeof(opt);
	opt.ca_file = ca_file;
	rc = dbr_mask_new(&mask_) || dbr_log_new(mask_, &log) || dbr_log_add_fd(log, 2);
	if (rc) {
		fail("out of memory");
		goto out;
	}
	dbr_log_set_level(log, DBR_LOG_TRACE);
	opt.log = log;
	if ((rc = step(dbr_config_load(NULL, NULL, log, &cfg, &err), "config", &err)) ||
	    (rc = step(dbr_chain_new(&copt, cfg, mask_, log, &chain, &err), "chain", &err)) ||
	    (rc = step(dbr_chain_resolve(chain, &cred, &err), "resolve", &err)))
		goto out;
	check_hardening("with the credential held");
	{
		struct hits h = scan(0, "held (expected)");

		if (h.count == 0)
			fail("with the credential held the scan finds no copy of the token: "
			     "it does not reach the memory where secrets live");
		else
			fprintf(stderr, "heap_scan: with the credential held: %zu copy(ies) "
				"found, as expected\n", h.count);
	}
	if ((rc = step(dbr_client_new(cred, &opt, &client, &err), "client", &err)) ||
	    (rc = step(dbr_cluster_spec_new_default(&spec), "spec", &err)) ||
	    (rc = step(dbr_cluster_spec_validate(spec, NULL, NULL, &err), "validate", &err)) ||
	    (rc = step(dbr_clusters_create(client, spec, &info, &err), "create", &err)) ||
	    (rc = step(dbr_clusters_get(client, info.cluster_id, &info, &json, &err), "get",
		       &err)))
		goto out;
	free(json);
	json = NULL;
	if ((rc = step(dbr_clusters_list(client, &json, &err), "list", &err)) ||
	    (rc = step(dbr_client_call(client, "GET", "/api/2.0/preview/scim/v2/Me", NULL, 0, 0,
				       &resp, NULL, &err), "scim", &err)) ||
	    (rc = step(dbr_clusters_delete(client, info.cluster_id, &err), "delete", &err)))
		goto out;
	/* an error answer on purpose */
	if (dbr_clusters_get(client, "0000-000000-nothere0", &info, NULL, &err) != DBR_E_API) {
		fail("clusters/get of an unknown id did not fail with DBR_E_API");
		rc = DBR_E_INTERNAL;
	}
out:
	free(json);
	dbr_http_response_release(&resp);
	dbr_cluster_spec_free(spec);
	dbr_client_free(client);
	dbr_credential_free(cred);
	dbr_chain_free(chain);
	dbr_config_free(cfg);
	dbr_log_free(log);
	dbr_mask_free(mask_);
	return rc;
}

int main(int argc, char **argv)
{
	struct dbr_err err = DBR_ERR_INIT;
	const char *plant = getenv("DBR_LEAK_PLANT");
	size_t plant_idx;
	struct hits h;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: heap_scan CHAIN CA_FILE\n");
		return 2;
	}
	snapshot_environment();
	if (load_needles()) {
		fprintf(stderr, "heap_scan: DBR_LEAK_MASK/DBR_LEAK_NEEDLES missing or malformed\n");
		return 2;
	}
	plant_idx = plant ? (size_t)strtoul(plant, NULL, 10) : 0;
	if (plant_idx >= n_needles)
		return 2;
	scratch = mmap(NULL, CHUNK + MAX_NEEDLE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED)
		return 1;
	find_premain_copies(); /* before any library code runs */
	/* as dbroker's main() does for every command but exec */
	if (dbr_harden_process(&err) || dbr_harden_drop_core_limit(&err) ||
	    dbr_runtime_init(0, NULL, &err)) {
		fprintf(stderr, "heap_scan: start-up failed: %s\n", err.msg);
		return 1;
	}
	check_hardening("after start-up");

	self_check(plant_idx, "before");
	rc = exercise(argv[1], argv[2]);
	dbr_runtime_cleanup();
	if (rc)
		fail("the library calls failed");

	h = scan(0, "LEFT AFTER TEARDOWN");
	if (h.count)
		fail("a canary is still in memory after teardown (hits above)");
	else
		fprintf(stderr, "heap_scan: after teardown: no canary in memory (%zu KiB in %zu "
			"mappings read)\n", h.bytes / 1024, h.nmaps);
	self_check(plant_idx, "after");
	h = scan(0, "LEFT AFTER THE SELF-CHECK");
	if (h.count)
		fail("the self-check's plant was not wiped");
	munmap(scratch, CHUNK + MAX_NEEDLE);
	fprintf(stderr, "heap_scan: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
