/* The exec proxy (serve/proxy*.c) without a workspace behind it: the
 * capability, the refusals made before anything is forwarded, the port,
 * and which headers never cross. Forwarding itself is tested end to end in
 * tests/integration/test_exec.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/dbroker.h"
#include "proxy_internal.h"
#include "secret_internal.h"

#define TOKEN "dapi0123456789abcdef0123456789abcdef"

struct fixture {
	struct dbr_credential *cred;
	struct dbr_proxy *proxy;
};

static void start(struct fixture *f, uint16_t port, int expect)
{
	struct dbr_secret *tok = NULL;
	struct dbr_proxy_options o;
	struct dbr_client_options c;
	struct dbr_err err = DBR_ERR_INIT;

	memset(f, 0, sizeof(*f));
	assert_int_equal(dbr_secret_new(TOKEN, strlen(TOKEN), &tok), 0);
	/* nothing listens there: every forward would fail, none may happen */
	assert_int_equal(dbr_credential_new("https://127.0.0.1:9", tok, "test", &f->cred, &err), 0);
	dbr_secret_free(tok);
	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.port = port;
	o.max_body = 100;
	memset(&c, 0, sizeof(c));
	c.struct_size = sizeof(c);
	c.retry_window_ms = -1; /* the missing workspace: answer at once */
	assert_int_equal(dbr_proxy_start(f->cred, &c, &o, &f->proxy, &err), expect);
}

static void stop(struct fixture *f)
{
	dbr_proxy_stop(f->proxy);
	dbr_credential_free(f->cred);
}

/* One request on a new connection; the status of the answer (0: none). */
static int ask(struct fixture *f, const char *request)
{
	struct sockaddr_in a;
	char buf[4096];
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(dbr_proxy_port(f->proxy));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	/* the status line is all it needs (a refused upload may stay open) */
	buf[0] = '\0';
	while (n < sizeof(buf) - 1 && !strstr(buf, "\r\n") &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
	}
	close(fd);
	if (n > 12)
		sscanf(buf + 9, "%d", &status);
	return status;
}

static void test_capability_and_url(void **state)
{
	struct fixture f, g;
	const unsigned char *cap;
	char url[64];

	(void)state;
	start(&f, 0, 0);
	start(&g, 0, 0);
	assert_true(dbr_proxy_port(f.proxy) > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", dbr_proxy_port(f.proxy));
	assert_string_equal(dbr_proxy_url(f.proxy), url);
	cap = dbr_secret_bytes(dbr_proxy_capability(f.proxy));
	assert_int_equal(dbr_secret_len(dbr_proxy_capability(f.proxy)), 7 + 43);
	assert_memory_equal(cap, "dbrcap_", 7);
	for (size_t i = 7; i < 50; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_", cap[i]));
	/* each proxy its own */
	assert_false(dbr_secret_equal(dbr_proxy_capability(f.proxy),
				      dbr_proxy_capability(g.proxy)));
	assert_null(dbr_proxy_url(NULL));
	assert_int_equal(dbr_proxy_port(NULL), 0);
	stop(&g);
	stop(&f);
}

static void test_refusals(void **state)
{
	struct fixture f;
	char req[1024], host[64];
	const char *cap;

	(void)state;
	start(&f, 0, 0);
	cap = (const char *)dbr_secret_bytes(dbr_proxy_capability(f.proxy));
	snprintf(host, sizeof(host), "127.0.0.1:%u", dbr_proxy_port(f.proxy));
	snprintf(req, sizeof(req), "GET /api/2.0/x HTTP/1.1\r\nHost: %s\r\n"
		 "Connection: close\r\n\r\n", host);
	assert_int_equal(ask(&f, req), 401);
	snprintf(req, sizeof(req), "GET /api/2.0/x HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
		 "%sX\r\nConnection: close\r\n\r\n", host, cap);
	assert_int_equal(ask(&f, req), 401);
	snprintf(req, sizeof(req), "GET /api/2.0/x HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
		 "%s\r\nConnection: close\r\n\r\n", "evil.example", cap);
	assert_int_equal(ask(&f, req), 400);
	snprintf(req, sizeof(req), "GET http://evil.example/ HTTP/1.1\r\nHost: %s\r\n"
		 "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", host, cap);
	assert_int_equal(ask(&f, req), 400);
	snprintf(req, sizeof(req), "CONNECT evil.example:443 HTTP/1.1\r\nHost: %s\r\n"
		 "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", host, cap);
	assert_int_equal(ask(&f, req), 400);
	snprintf(req, sizeof(req), "POST /api/2.0/x HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
		 "%s\r\nContent-Length: 101\r\nConnection: close\r\n\r\n", host, cap);
	assert_int_equal(ask(&f, req), 413);
	/* accepted: forwarded to a workspace that is not there */
	snprintf(req, sizeof(req), "GET /api/2.0/x HTTP/1.1\r\nHost: localhost:%u\r\n"
		 "Authorization: bearer %s\r\nConnection: close\r\n\r\n",
		 dbr_proxy_port(f.proxy), cap);
	assert_int_equal(ask(&f, req), 502);
	stop(&f);
}

static void test_port_in_use(void **state)
{
	struct fixture f, g;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	(void)err;
	start(&f, 0, 0);
	start(&g, dbr_proxy_port(f.proxy), DBR_E_IO);
	assert_null(g.proxy);
	stop(&g);
	stop(&f);
}

static void test_headers_dropped(void **state)
{
	static const char *const dropped[] = {
		"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "Host",
		"Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Upgrade",
		"Content-Length", "Expect", "Accept-Encoding", "Date",
	};
	static const char *const kept[] = {
		"Content-Type", "Accept", "User-Agent", "X-Databricks-Org-Id", "X-Request-Id",
		"Retry-After",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		assert_true(proxy_header_dropped(dropped[i], NULL));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_false(proxy_header_dropped(kept[i], NULL));
	/* what Connection names is hop-by-hop too */
	assert_true(proxy_header_dropped("X-Trace", "keep-alive, x-trace"));
	assert_false(proxy_header_dropped("X-Trac", "keep-alive, x-trace"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capability_and_url),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_headers_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
