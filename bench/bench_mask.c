/* Masking throughput benchmark.
 *
 *   bench_mask [--bufsize N] [--stats]    mask stdin to stdout through the
 *                                         stream API, with 16 registered
 *                                         random secrets (40 chars each)
 *   bench_mask --generate BYTES           write a realistic log-like text
 *                                         stream (JSON bodies, HTTP traces,
 *                                         prose, stack traces, base64 blobs,
 *                                         token-shaped strings and, rarely,
 *                                         the registered secrets)
 *   bench_mask --list-secrets             print the 16 secrets, one a line
 *
 * The secrets are derived from a fixed seed, so the generator and the masker
 * agree. See bench/mask.sh and bench/README.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dbroker/errors.h"
#include "dbroker/mask.h"
#include "dbroker/secret.h"
#include "banned.h"

#define NSECRETS 16
#define SECRET_LEN 40

static uint64_t rng_s = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
	rng_s ^= rng_s >> 12;
	rng_s ^= rng_s << 25;
	rng_s ^= rng_s >> 27;
	return rng_s * 0x2545F4914F6CDD1Dull;
}

static unsigned rnd(unsigned n)
{
	return (unsigned)(rng() % n);
}

static const char ALNUM[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Half alphanumeric (like API keys), half any printable character (like
 * passwords, which then also have URL and JSON forms). */
static void make_secrets(char s[NSECRETS][SECRET_LEN + 1])
{
	for (int i = 0; i < NSECRETS; i++) {
		for (int j = 0; j < SECRET_LEN; j++)
			s[i][j] = i % 2 ? ALNUM[rnd(62)] : (char)(0x21 + rnd(94));
		s[i][SECRET_LEN] = '\0';
	}
}

/* ---- generator ---- */

static const char *const words[] = {
	"the", "a", "request", "cluster", "job", "run", "failed", "succeeded",
	"retry", "retrying", "after", "timeout", "while", "waiting", "for",
	"driver", "executor", "worker", "node", "started", "stopped",
	"terminated", "restarting", "user", "permission", "denied", "access",
	"granted", "table", "schema", "catalog", "warehouse", "query",
	"returned", "rows", "bytes", "seconds", "connection", "pool",
	"exhausted", "server", "responded", "with", "status", "error",
	"message", "check", "health", "description", "created", "updated",
	"deleted", "pending", "running", "process", "scheduled", "notebook",
	"library", "installed", "spark", "session", "commit", "offset",
	"partition", "shuffle", "stage", "task", "attempt", "memory", "disk",
	"spill", "checkpoint", "stream", "batch", "latency", "ms", "ok",
	"token", "refreshed", "expired", "credential", "provider", "chain",
	"profile", "config", "loaded", "from", "environment", "basic",
	"policy", "is", "of", "to", "and", "in", "on", "at", "by", "not",
	"will", "be", "has", "been", "was", "could", "using", "default",
	"region", "workspace", "volume", "path", "file", "directory",
	"upload", "download", "completed", "in", "progress", "queued",
	"items.", "metrics.", "jobs.", "classic", "compute", "serverless",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

struct out {
	char buf[1 << 16];
	size_t len;
	size_t total;
};

static void flush_out(struct out *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(STDOUT_FILENO, o->buf + off, o->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(1);
		off += (size_t)n;
	}
	o->total += o->len;
	o->len = 0;
}

static void put(struct out *o, const char *p, size_t n)
{
	if (o->len + n > sizeof(o->buf))
		flush_out(o);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_rand(struct out *o, const char *alphabet, size_t n)
{
	size_t a = strlen(alphabet);
	char tmp[512];

	for (size_t i = 0; i < n && i < sizeof(tmp); i++)
		tmp[i] = alphabet[rnd((unsigned)a)];
	put(o, tmp, n < sizeof(tmp) ? n : sizeof(tmp));
}

static void put_words(struct out *o, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i)
			put(o, " ", 1);
		puts_(o, words[rnd(NWORDS)]);
	}
}

static void put_b64(struct out *o, const unsigned char *p, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char c[4] = { t[v >> 18 & 63], t[v >> 12 & 63],
			      i + 1 < n ? t[v >> 6 & 63] : '=', i + 2 < n ? t[v & 63] : '=' };

		put(o, c, 4);
	}
}

static void put_ts(struct out *o)
{
	putf(o, "2024-05-%02uT%02u:%02u:%02u.%06uZ %s %s ", 1 + rnd(28), rnd(24), rnd(60),
	     rnd(60), rnd(1000000),
	     (const char *[]){ "INFO ", "DEBUG", "WARN ", "ERROR", "TRACE" }[rnd(5)],
	     (const char *[]){ "dbroker.http", "dbroker.chain", "scheduler", "driver",
			       "spark.executor", "sql.warehouse", "auth", "vault" }[rnd(8)]);
}

static void put_cluster_id(struct out *o)
{
	putf(o, "%04u-%06u-", 100 + rnd(1200), rnd(1000000));
	put_rand(o, "0123456789abcdef", 8);
}

static void gen_line(struct out *o, char sec[NSECRETS][SECRET_LEN + 1])
{
	unsigned r = rnd(1000);
	const char *s = sec[rnd(NSECRETS)];

	if (r < 300) {
		put_ts(o);
		puts_(o, "[req ");
		put_rand(o, "0123456789abcdef", 8);
		putf(o, "] %s https://adb-%u%08u.%u.azuredatabricks.net/api/2.0/%s?cluster_id=",
		     rnd(2) ? "GET" : "POST", 1000000 + rnd(9000000), rnd(100000000), 1 + rnd(9),
		     (const char *[]){ "clusters/get", "jobs/list", "jobs/runs/get",
				       "sql/statements" }[rnd(4)]);
		put_cluster_id(o);
		putf(o, " -> %u (%u ms, %u bytes)\n",
		     (unsigned[]){ 200, 200, 200, 404, 429, 500 }[rnd(6)], rnd(3000), rnd(100000));
	} else if (r < 550) {
		put_ts(o);
		puts_(o, "{\"cluster_id\":\"");
		put_cluster_id(o);
		putf(o, "\",\"cluster_name\":\"%s\",\"spark_version\":\"13.3.x-scala2.12\","
		     "\"node_type_id\":\"i3.xlarge\",\"num_workers\":%u,\"state\":\"%s\","
		     "\"state_message\":\"",
		     (const char *[]){ "etl-nightly", "ml-train", "adhoc" }[rnd(3)], rnd(64),
		     (const char *[]){ "RUNNING", "TERMINATED", "PENDING", "RESTARTING" }[rnd(4)]);
		put_words(o, rnd(6));
		putf(o, "\",\"creator_user_name\":\"%s@example.com\",\"autotermination_minutes\":%u,"
		     "\"description\":\"", (const char *[]){ "alice", "bob", "carol" }[rnd(3)],
		     10 + rnd(230));
		put_words(o, 3 + rnd(10));
		puts_(o, "\"}\n");
	} else if (r < 800) {
		put_ts(o);
		put_words(o, 8 + rnd(22));
		puts_(o, ".\n");
	} else if (r < 880) {
		putf(o, "    at com.databricks.backend.daemon.driver.DriverLocal.execute"
		     "(DriverLocal.scala:%u)\n", rnd(4000));
	} else if (r < 950) {
		unsigned char blob[600];
		size_t n = 100 + rnd(500);

		for (size_t i = 0; i < n; i++)
			blob[i] = (unsigned char)rng();
		put_ts(o);
		puts_(o, "payload: ");
		put_b64(o, blob, n);
		puts_(o, "\n");
	} else if (r < 970) {
		puts_(o, "> GET /api/2.0/jobs/list HTTP/1.1\n> Host: adb-123.azuredatabricks.net\n"
			 "> User-Agent: dbroker/0.1.0\n> Authorization: Bearer dapi");
		put_rand(o, "0123456789abcdef", 32);
		puts_(o, "\n< HTTP/1.1 200 OK\n< content-type: application/json\n");
	} else if (r < 980) {
		put_ts(o);
		puts_(o, "vault login ok token=hvs.");
		put_rand(o, ALNUM, 90);
		puts_(o, " lease 768h\n");
	} else if (r < 988) {
		put_ts(o);
		puts_(o, "{\"access_token\":\"");
		put_rand(o, ALNUM, 60);
		puts_(o, "\",\"token_type\":\"Bearer\",\"expires_in\":3599}\n");
	} else if (r < 992) {
		put_ts(o);
		puts_(o, "legacy vault token s.");
		put_rand(o, ALNUM, 24);
		puts_(o, " accepted\n");
	} else if (r < 995) {
		put_ts(o);
		putf(o, "provider env returned %s for the default profile\n", s);
	} else if (r < 998) {
		unsigned char up[64];

		memcpy(up, "svc:", 4);
		memcpy(up + 4, s, SECRET_LEN);
		put_ts(o);
		puts_(o, "proxy auth header Proxy-Credentials ");
		put_b64(o, up, 4 + SECRET_LEN);
		puts_(o, "\n");
	} else {
		put_ts(o);
		puts_(o, "form body grant_type=client_credentials&client_secret=");
		for (const char *p = s; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (strchr(ALNUM, c) || strchr("-._~", c))
				put(o, p, 1);
			else
				putf(o, "%%%02X", c);
		}
		puts_(o, "\n");
	}
}

static int generate(unsigned long long bytes, char sec[NSECRETS][SECRET_LEN + 1])
{
	static struct out o;

	while (o.total + o.len < bytes)
		gen_line(&o, sec);
	flush_out(&o);
	return 0;
}

/* ---- masker ---- */

/* A sink that costs one writev() per input chunk, like cat's one write():
 * pieces that lie in the read buffer are referenced (it is not reused
 * before the writev), others (the masker's held-back tail, the
 * replacement) are copied. */
struct vsink {
	struct iovec iov[IOV_MAX < 1024 ? IOV_MAX : 1024];
	int n;
	const char *lo, *hi; /* the current read buffer */
	char copy[1 << 16];
	size_t copied;
	unsigned long long out_bytes;
	unsigned long long masks;
};

static int vsink_flush(struct vsink *v)
{
	struct iovec *iov = v->iov;
	int n = v->n;

	while (n > 0) {
		ssize_t w = writev(STDOUT_FILENO, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return DBR_E_IO;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	v->n = 0;
	v->copied = 0;
	return 0;
}

static int sink_vec(void *arg, const char *p, size_t len)
{
	struct vsink *v = arg;

	if (len == 3 && memcmp(p, DBR_MASK_REPLACEMENT, 3) == 0)
		v->masks++;
	v->out_bytes += len;
	if (!((uintptr_t)p >= (uintptr_t)v->lo && (uintptr_t)p + len <= (uintptr_t)v->hi)) {
		if (len > sizeof(v->copy) - v->copied && vsink_flush(v))
			return DBR_E_IO;
		if (len > sizeof(v->copy)) {
			/* cannot happen with the masker's tail sizes; write it */
			v->iov[0].iov_base = (void *)(uintptr_t)p;
			v->iov[0].iov_len = len;
			v->n = 1;
			return vsink_flush(v);
		}
		memcpy(v->copy + v->copied, p, len);
		p = v->copy + v->copied;
		v->copied += len;
	}
	v->iov[v->n].iov_base = (void *)(uintptr_t)p;
	v->iov[v->n].iov_len = len;
	if (++v->n == (int)(sizeof(v->iov) / sizeof(v->iov[0])))
		return vsink_flush(v);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_mask(size_t bufsize, int stats, char sec[NSECRETS][SECRET_LEN + 1])
{
	struct dbr_mask *m = NULL;
	struct dbr_mask_stream *s = NULL;
	static struct vsink v;
	unsigned long long in_bytes = 0;
	char *buf;
	double t0, t1 = 0, in_mask = 0;
	int rc;

	if (dbr_mask_new(&m))
		return 1;
	for (int i = 0; i < NSECRETS; i++) {
		struct dbr_secret *h = NULL;
		struct dbr_err err = DBR_ERR_INIT;

		if (dbr_secret_new(sec[i], SECRET_LEN, &h) || dbr_mask_add_secret(m, h, &err)) {
			fprintf(stderr, "bench_mask: cannot register secret: %s\n", err.msg);
			return 1;
		}
		dbr_secret_free(h);
	}
	buf = malloc(bufsize);
	if (!buf || dbr_mask_stream_new(m, sink_vec, &v, &s))
		return 1;
	t0 = now();
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, bufsize);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("bench_mask: read");
			return 1;
		}
		if (n == 0)
			break;
		in_bytes += (unsigned long long)n;
		v.lo = buf;
		v.hi = buf + n;
		if (stats)
			t1 = now();
		rc = dbr_mask_stream_write(s, buf, (size_t)n);
		if (stats)
			in_mask += now() - t1;
		if (!rc)
			rc = vsink_flush(&v);
		if (rc) {
			fprintf(stderr, "bench_mask: %s\n", dbr_strerror(rc));
			return 1;
		}
	}
	v.lo = v.hi = NULL;
	rc = dbr_mask_stream_flush(s);
	if (!rc)
		rc = vsink_flush(&v);
	if (rc) {
		fprintf(stderr, "bench_mask: %s\n", dbr_strerror(rc));
		return 1;
	}
	if (stats) {
		double dt = now() - t0;

		fprintf(stderr, "bench_mask: %llu bytes in, %llu out, %llu masked regions, "
			"%.3f s, %.2f GB/s (%.3f s in the masker, %.2f GB/s)\n", in_bytes,
			v.out_bytes, v.masks, dt, dt > 0 ? (double)in_bytes / dt / 1e9 : 0.0,
			in_mask, in_mask > 0 ? (double)in_bytes / in_mask / 1e9 : 0.0);
	}
	dbr_mask_stream_free(s);
	dbr_mask_free(m);
	free(buf);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_mask [--bufsize BYTES] [--stats]\n"
			"       bench_mask --generate BYTES\n"
			"       bench_mask --list-secrets\n");
	return 2;
}

int main(int argc, char **argv)
{
	char sec[NSECRETS][SECRET_LEN + 1];
	size_t bufsize = 128 * 1024;
	int stats = 0;

	make_secrets(sec);
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--generate") == 0 && i + 1 < argc) {
			unsigned long long n = strtoull(argv[i + 1], &end, 10);

			if (*end || !n)
				return usage();
			return generate(n, sec);
		} else if (strcmp(argv[i], "--list-secrets") == 0) {
			for (int k = 0; k < NSECRETS; k++)
				printf("%s\n", sec[k]);
			return 0;
		} else if (strcmp(argv[i], "--bufsize") == 0 && i + 1 < argc) {
			bufsize = strtoull(argv[++i], &end, 10);
			if (*end || bufsize == 0)
				return usage();
		} else if (strcmp(argv[i], "--stats") == 0) {
			stats = 1;
		} else {
			return usage();
		}
	}
	return run_mask(bufsize, stats, sec);
}
