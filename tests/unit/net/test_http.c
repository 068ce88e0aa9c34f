/* The hardened HTTP client against local HTTPS doubles
 * (tests/doubles/https_test_server.py, TLS material from mkca.sh). */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "dbroker/http.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "http_internal.h"
#include "tls_server_fixture.h"

/* not the shape of any known token: only exact-value masking can hide it */
#define TOKEN "tok-4f1c9e2a7b3d5e60-unshaped-credential"

static struct tls_fixture fx;
static char other_ca[PATH_MAX], capath[PATH_MAX];
static char client_cert[PATH_MAX], client_key[PATH_MAX];
static struct tls_server srv_main = { "main", 0, 0, "" };
static struct tls_server srv_other = { "other", 0, 0, "" };  /* another origin */
static struct tls_server srv_wrong = { "wrong", 0, 0, "" };  /* cert for wrong.example */
static struct tls_server srv_plain = { "plain", 0, 0, "" };  /* http:// */
static struct tls_server srv_mtls = { "mtls", 0, 0, "" };    /* wants a client cert */

/* ---- fixtures ------------------------------------------------------------ */

static int group_setup(void **state)
{
	char wcert[PATH_MAX], wkey[PATH_MAX];

	*state = &fx; /* where tls_fixture_group_teardown() finds it */
	if (tls_fixture_setup(&fx, "dbroker-http") != 0)
		return -1;
	tls_fixture_path(&fx, other_ca, "other-ca.pem");
	tls_fixture_path(&fx, capath, "capath");
	tls_fixture_path(&fx, client_cert, "client.pem");
	tls_fixture_path(&fx, client_key, "client.key");
	tls_fixture_path(&fx, wcert, "wrong.pem");
	tls_fixture_path(&fx, wkey, "wrong.key");
	{
		const char *tls[] = { "--cert", fx.cert, "--key", fx.key, NULL };
		const char *wrong[] = { "--cert", wcert, "--key", wkey, NULL };
		const char *plain[] = { "--plain", NULL };
		const char *mtls[] = { "--cert", fx.cert, "--key", fx.key, "--client-ca", fx.ca,
				       NULL };

		if (tls_server_start(&srv_main, &fx, tls) ||
		    tls_server_start(&srv_other, &fx, tls) ||
		    tls_server_start(&srv_wrong, &fx, wrong) ||
		    tls_server_start(&srv_plain, &fx, plain) ||
		    tls_server_start(&srv_mtls, &fx, mtls)) {
			tls_fixture_group_teardown(state);
			return -1;
		}
	}
	return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static const char *url_of(const struct tls_server *s, const char *scheme, const char *host,
			  const char *path)
{
	static char buf[4][1024];
	static int next;
	char *out = buf[next++ % 4];

	int n = snprintf(out, sizeof(buf[0]), "%s://%s:%d%s", scheme, host, s->port, path);

	assert_true(n > 0 && (size_t)n < sizeof(buf[0]));
	return out;
}

static const char *url_main(const char *path)
{
	return url_of(&srv_main, "https", "localhost", path);
}

static void req_init(struct dbr_http_request *r, const char *url)
{
	memset(r, 0, sizeof(*r));
	r->struct_size = sizeof(*r);
	r->url = url;
	r->ca_file = fx.ca;
	r->timeout_ms = 20000;
}

static struct dbr_secret *token(void)
{
	struct dbr_secret *s = NULL;

	assert_int_equal(dbr_secret_new(TOKEN, strlen(TOKEN), &s), 0);
	return s;
}

static int log_has(const struct tls_server *s, const char *needle)
{
	char *txt = tls_server_log_read(s);
	int found = txt && strstr(txt, needle);

	free(txt);
	return found;
}

/* How many echoed headers are called name (any case) with exactly value
 * (NULL: any value). */
static int echo_count(const struct dbr_http_response *resp, const char *name, const char *value)
{
	cJSON *j = cJSON_Parse(resp->body), *h;
	int n = 0;

	assert_non_null(j);
	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "headers")) {
		const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
		const char *v = cJSON_GetArrayItem(h, 1)->valuestring;

		if (strcasecmp(k, name) == 0 && (!value || strcmp(v, value) == 0))
			n++;
	}
	cJSON_Delete(j);
	return n;
}

static char *echo_field(const struct dbr_http_response *resp, const char *field)
{
	cJSON *j = cJSON_Parse(resp->body);
	cJSON *f = cJSON_GetObjectItemCaseSensitive(j, field);
	char *out;

	assert_true(cJSON_IsString(f));
	out = strdup(f->valuestring);
	cJSON_Delete(j);
	return out;
}

/* err.msg contains needle (printed when it does not, to debug messages). */
static void assert_msg_has(const struct dbr_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		print_message("message: %s\n", err->msg);
	assert_non_null(strstr(err->msg, needle));
}

/* ---- tests ----------------------------------------------------------------- */

static void test_bearer_echo(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();
	char *method, ua[64];

	(void)state;
	snprintf(ua, sizeof(ua), "dbroker/%s", dbr_version());
	req_init(&r, url_main("/echo"));
	r.auth = DBR_HTTP_AUTH_BEARER;
	r.auth_secret = tok;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(echo_count(&resp, "Authorization", NULL), 1);
	assert_int_equal(echo_count(&resp, "Authorization", "Bearer " TOKEN), 1);
	assert_int_equal(echo_count(&resp, "User-Agent", ua), 1);
	assert_int_equal(echo_count(&resp, "Content-Type", NULL), 0);
	method = echo_field(&resp, "method");
	assert_string_equal(method, "GET");
	free(method);
	assert_string_equal(resp.content_type, "application/json");
	assert_non_null(resp.request_id);
	assert_int_equal(strncmp(resp.request_id, "test-", 5), 0);
	assert_int_equal(resp.retry_after_s, -1);
	assert_int_equal(strlen(resp.body), resp.body_len);
	dbr_http_response_release(&resp);
	assert_null(resp.body);
	dbr_secret_free(tok);
}

static void test_secret_header(void **state)
{
	static const struct dbr_http_header hdrs[] = { { "X-Vault-Request", "true" } };
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();

	(void)state;
	req_init(&r, url_main("/echo"));
	r.auth = DBR_HTTP_AUTH_HEADER;
	r.auth_header = "X-Vault-Token";
	r.auth_secret = tok;
	r.headers = hdrs;
	r.n_headers = 1;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(echo_count(&resp, "X-Vault-Token", TOKEN), 1);
	assert_int_equal(echo_count(&resp, "X-Vault-Token", NULL), 1);
	assert_int_equal(echo_count(&resp, "X-Vault-Request", "true"), 1);
	assert_int_equal(echo_count(&resp, "Authorization", NULL), 0);
	dbr_http_response_release(&resp);
	dbr_secret_free(tok);
}

static void test_secret_body(void **state)
{
	static const char body[] = "{\"role_id\":\"r-1\",\"secret_id\":\"s3cr3t-id-value\"}";
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *sb = NULL;
	char *got;

	(void)state;
	assert_int_equal(dbr_secret_new(body, strlen(body), &sb), 0);
	req_init(&r, url_main("/echo"));
	r.method = "POST";
	r.secret_body = sb;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	got = echo_field(&resp, "body");
	assert_string_equal(got, body);
	free(got);
	assert_int_equal(echo_count(&resp, "Content-Type", "application/json"), 1);
	assert_int_equal(echo_count(&resp, "Expect", NULL), 0);
	dbr_http_response_release(&resp);

	/* a plain body with another method and type */
	req_init(&r, url_main("/echo"));
	r.method = "PATCH";
	r.body = "a=1";
	r.body_len = 3;
	r.content_type = "application/x-www-form-urlencoded";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	got = echo_field(&resp, "method");
	assert_string_equal(got, "PATCH");
	free(got);
	got = echo_field(&resp, "body");
	assert_string_equal(got, "a=1");
	free(got);
	assert_int_equal(echo_count(&resp, "Content-Type", "application/x-www-form-urlencoded"), 1);
	dbr_http_response_release(&resp);

	/* POST without a body: no form content type sneaks in */
	req_init(&r, url_main("/echo"));
	r.method = "POST";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(echo_count(&resp, "Content-Type", NULL), 0);
	assert_int_equal(echo_count(&resp, "Content-Length", "0"), 1);
	dbr_http_response_release(&resp);
	dbr_secret_free(sb);
}

static void test_invalid_requests(void **state)
{
	static const struct dbr_http_header crlf[] = { { "X-A", "b\r\nX-Injected: 1" } };
	static const struct dbr_http_header badname[] = { { "X A", "b" } };
	static const struct dbr_http_header authz[] = { { "authorization", "Bearer plain" } };
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token(), *nl = NULL, *sp = NULL, *tab = NULL, *esc = NULL;
	size_t before = tls_server_log_lines(&srv_main);

	(void)state;
	assert_int_equal(dbr_secret_new("abcdefgh\r\nX-Evil: 1", 19, &nl), 0);
	assert_int_equal(dbr_secret_new("dapi0123 456789abcdef", 21, &sp), 0);
	assert_int_equal(dbr_secret_new("dapi0123\t456789abcdef", 21, &tab), 0);
	assert_int_equal(dbr_secret_new("dapi0123\x1b[2J456789", 18, &esc), 0);

	req_init(&r, url_main("/echo"));
	r.headers = crlf;
	r.n_headers = 1;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	r.headers = badname;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	r.headers = authz;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "secret handle");

	req_init(&r, url_main("/echo\r\nX-Injected: 1"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, url_of(&srv_main, "https", "user:hunter2pass@localhost", "/echo"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_null(strstr(err.msg, "hunter2pass"));
	req_init(&r, "ftp://localhost/x");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, "localhost/echo");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, NULL);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);

	req_init(&r, url_main("/echo"));
	r.method = "get";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, url_main("/echo"));
	r.client_cert = client_cert;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "client_key");
	req_init(&r, url_main("/echo"));
	r.body = "x";
	r.body_len = 1;
	r.secret_body = tok;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, url_main("/echo"));
	r.auth = DBR_HTTP_AUTH_BEARER;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	r.auth_secret = nl;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "contains a line break");
	/* what login refuses is refused here too, naming the character */
	r.auth_secret = sp;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "contains a space");
	r.auth_secret = tab;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "contains a tab");
	r.auth_secret = esc;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "contains a control character (0x1b)");
	r.auth_secret = nl;
	r.auth = DBR_HTTP_AUTH_HEADER;
	r.auth_header = "X-Vault-Token";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	r.auth_secret = tok;
	r.auth_header = "Bad Name";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, url_main("/echo"));
	r.tls_server_name = "bad name";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	req_init(&r, url_main("/echo"));
	r.struct_size = 4;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_int_equal(dbr_http_perform(&r, NULL, &err), DBR_E_INVAL);

	/* nothing reached the server */
	assert_int_equal(tls_server_log_lines(&srv_main), before);
	assert_null(resp.body);
	dbr_secret_free(tok);
	dbr_secret_free(nl);
	dbr_secret_free(sp);
	dbr_secret_free(tab);
	dbr_secret_free(esc);
}

static void test_unknown_ca(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_main("/echo"));
	r.ca_file = other_ca;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TLS);
	assert_int_equal(err.code, DBR_E_TLS);
	assert_msg_has(&err, "not trusted");
	assert_msg_has(&err, "'localhost'");
	assert_msg_has(&err, "ca_cert");
	assert_int_equal(resp.status, 0);
	assert_null(resp.body);
}

static void test_wrong_name_and_server_name(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	char host[64], path[256];

	(void)state;
	req_init(&r, url_of(&srv_wrong, "https", "localhost", "/echo"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TLS);
	assert_msg_has(&err, "not valid for the name 'localhost'");
	assert_msg_has(&err, "use the host name the certificate was issued for");
	/* no setting of that name is the user's to set for a workspace */
	assert_null(strstr(err.msg, "tls_server_name"));
	assert_int_equal(tls_server_log_lines(&srv_wrong), 0);

	/* verify against the name in the certificate, connect to localhost */
	r.tls_server_name = "wrong.example";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	snprintf(host, sizeof(host), "localhost:%d", srv_wrong.port);
	assert_int_equal(echo_count(&resp, "Host", host), 1);
	dbr_http_response_release(&resp);

	/* a redirect keeps the override, relative or naming the real host */
	r.url = url_of(&srv_wrong, "https", "localhost", "/redirect?to=/echo");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(echo_count(&resp, "Host", host), 1);
	dbr_http_response_release(&resp);
	snprintf(path, sizeof(path), "/redirect?to=https://%s/echo", host);
	r.url = url_of(&srv_wrong, "https", "localhost", path);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	dbr_http_response_release(&resp);

	/* the override does not weaken the check: the main server's cert is
	 * not for wrong.example */
	req_init(&r, url_main("/echo"));
	r.tls_server_name = "wrong.example";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TLS);
	assert_msg_has(&err, "wrong.example");
}

static void test_ca_sources(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	char *saved_file = getenv("SSL_CERT_FILE"), *saved_bundle = getenv("CURL_CA_BUNDLE");

	(void)state;
	saved_file = saved_file ? strdup(saved_file) : NULL;
	saved_bundle = saved_bundle ? strdup(saved_bundle) : NULL;

	req_init(&r, url_main("/echo"));
	r.ca_file = NULL;
	r.ca_path = capath;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);

	r.ca_path = NULL;
	setenv("SSL_CERT_FILE", fx.ca, 1);
	unsetenv("CURL_CA_BUNDLE");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	unsetenv("SSL_CERT_FILE");
	setenv("CURL_CA_BUNDLE", fx.ca, 1);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	setenv("CURL_CA_BUNDLE", other_ca, 1);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TLS);
	/* an explicit ca_file wins over the environment */
	r.ca_file = fx.ca;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	dbr_http_response_release(&resp);

	if (saved_file)
		setenv("SSL_CERT_FILE", saved_file, 1);
	else
		unsetenv("SSL_CERT_FILE");
	if (saved_bundle)
		setenv("CURL_CA_BUNDLE", saved_bundle, 1);
	else
		unsetenv("CURL_CA_BUNDLE");
	free(saved_file);
	free(saved_bundle);
}

static void test_client_cert(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_of(&srv_mtls, "https", "localhost", "/echo"));
	r.client_cert = client_cert;
	r.client_key = client_key;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	dbr_http_response_release(&resp);

	/* TLS 1.3: the server objects after the handshake, as an alert (TLS
	 * error) or by closing the connection while the request is being sent
	 * (network error); both must point at the client certificate */
	r.client_cert = r.client_key = NULL;
	for (int i = 0; i < 5; i++) {
		int rc = dbr_http_perform(&r, &resp, &err);

		assert_true(rc == DBR_E_TLS || rc == DBR_E_NETWORK);
		assert_msg_has(&err, "set client_cert and client_key");
	}
}

static void test_plain_http(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();

	(void)state;
	/* refused without opt-in, before any connection */
	req_init(&r, url_of(&srv_plain, "http", "127.0.0.1", "/echo"));
	r.auth = DBR_HTTP_AUTH_BEARER;
	r.auth_secret = tok;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "https://");
	assert_int_equal(tls_server_log_lines(&srv_plain), 0);

	/* allowed to loopback with opt-in */
	r.allow_loopback_http = 1;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(echo_count(&resp, "Authorization", "Bearer " TOKEN), 1);
	assert_int_equal(tls_server_log_lines(&srv_plain), 1);
	dbr_http_response_release(&resp);
	r.url = url_of(&srv_plain, "http", "localhost", "/echo");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	dbr_http_response_release(&resp);

	/* a proxy from the environment never sees a loopback request */
	setenv("http_proxy", url_of(&srv_other, "http", "127.0.0.1", ""), 1);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	unsetenv("http_proxy");
	dbr_http_response_release(&resp);
	assert_int_equal(tls_server_log_lines(&srv_other), 0);

	/* never to anything else, opt-in or not */
	r.url = "http://example.invalid/echo";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	assert_msg_has(&err, "not a loopback");
	r.url = "http://127.0.0.1.example.invalid/echo";
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_INVAL);
	dbr_secret_free(tok);
}

static void test_loopback_and_origin(void **state)
{
	(void)state;
	assert_int_equal(dbr_http_url_is_loopback("http://127.0.0.1:80/"), 1);
	assert_int_equal(dbr_http_url_is_loopback("http://127.9.8.7/x"), 1);
	assert_int_equal(dbr_http_url_is_loopback("http://[::1]:8080/x"), 1);
	assert_int_equal(dbr_http_url_is_loopback("http://localhost/"), 1);
	assert_int_equal(dbr_http_url_is_loopback("https://LOCALHOST:1/"), 1);
	assert_int_equal(dbr_http_url_is_loopback("http://128.0.0.1/"), 0);
	assert_int_equal(dbr_http_url_is_loopback("http://[::2]/"), 0);
	assert_int_equal(dbr_http_url_is_loopback("http://localhost.example.com/"), 0);
	assert_int_equal(dbr_http_url_is_loopback("http://127.0.0.1.nip.io/"), 0);
	assert_int_equal(dbr_http_url_is_loopback("http://example.com/"), 0);
	assert_int_equal(dbr_http_url_is_loopback("not a url"), 0);
	assert_int_equal(dbr_http_url_is_loopback(NULL), 0);

	assert_int_equal(dbr_http_same_origin("https://a.example:443/x", "https://A.example/y?z"), 1);
	assert_int_equal(dbr_http_same_origin("https://a.example/", "http://a.example/"), 0);
	assert_int_equal(dbr_http_same_origin("https://a.example:8443/", "https://a.example/"), 0);
	assert_int_equal(dbr_http_same_origin("https://a.example/", "https://b.example/"), 0);
	assert_int_equal(dbr_http_same_origin("https://localhost/", "https://127.0.0.1/"), 0);
	assert_int_equal(dbr_http_same_origin("https://a.example/", "junk"), 0);
}

static void test_response_cap(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_main("/big/1000"));
	r.max_response = 1000;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.body_len, 1000);
	dbr_http_response_release(&resp);

	/* Content-Length over the cap */
	r.url = url_main("/big/2000");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TOO_LARGE);
	assert_msg_has(&err, "response from 'localhost' exceeds 1000 bytes");
	assert_null(resp.body);

	/* no Content-Length: the stream is cut at the cap */
	r.url = url_main("/big/300000?chunked=1");
	r.max_response = 100000;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TOO_LARGE);
	assert_msg_has(&err, "exceeds 100000 bytes");
	assert_null(resp.body);
	r.url = url_main("/big/100000?chunked=1");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.body_len, 100000);
	dbr_http_response_release(&resp);
}

static void test_error_status(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_main("/status/500"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 500);
	assert_non_null(strstr(resp.body, "TEST_500"));
	assert_string_equal(resp.content_type, "application/json");
	assert_int_equal(err.code, 0);
	dbr_http_response_release(&resp);

	r.url = url_main("/status/404");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	dbr_http_response_release(&resp);
}

static void test_retry_after(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_main("/retry-after/7"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 429);
	assert_int_equal(resp.retry_after_s, 7);
	dbr_http_response_release(&resp);

	r.url = url_main("/retry-after/30?date=1");
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 429);
	assert_in_range(resp.retry_after_s, 25, 31);
	dbr_http_response_release(&resp);
}

static void test_redirect_same_origin(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();
	size_t before = tls_server_log_lines(&srv_main);
	char *path, *body;

	(void)state;
	req_init(&r, url_main("/redirect?to=/echo%3Fafter%3D1"));
	r.auth = DBR_HTTP_AUTH_BEARER;
	r.auth_secret = tok;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	path = echo_field(&resp, "path");
	assert_string_equal(path, "/echo?after=1");
	free(path);
	assert_int_equal(echo_count(&resp, "Authorization", "Bearer " TOKEN), 1);
	assert_int_equal(tls_server_log_lines(&srv_main), before + 2);
	dbr_http_response_release(&resp);

	/* 307 keeps method and body */
	req_init(&r, url_main("/redirect?to=/echo&code=307"));
	r.method = "POST";
	r.body = "{\"k\":1}";
	r.body_len = strlen(r.body);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	body = echo_field(&resp, "body");
	assert_string_equal(body, "{\"k\":1}");
	free(body);
	dbr_http_response_release(&resp);

	/* at most one redirect is followed */
	before = tls_server_log_lines(&srv_main);
	req_init(&r, url_main("/redirect?to=%2Fredirect%3Fto%3D%252Fecho"));
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_REDIRECT);
	assert_msg_has(&err, "at most 1 redirect");
	assert_int_equal(tls_server_log_lines(&srv_main), before + 2);
	assert_null(resp.body);
	dbr_secret_free(tok);
}

static void test_redirect_other_origin(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();
	char path[1024];
	size_t before;

	(void)state;
	/* another port */
	snprintf(path, sizeof(path), "/redirect?to=https://localhost:%d/echo", srv_other.port);
	req_init(&r, url_main(path));
	r.auth = DBR_HTTP_AUTH_BEARER;
	r.auth_secret = tok;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_REDIRECT);
	assert_msg_has(&err, "refuses to forward credentials to another host");
	assert_null(resp.body);
	assert_int_equal(tls_server_log_lines(&srv_other), 0);
	assert_false(log_has(&srv_other, TOKEN));

	/* same server, other host name: still another origin */
	before = tls_server_log_lines(&srv_main);
	snprintf(path, sizeof(path), "/redirect?to=https://127.0.0.1:%d/echo", srv_main.port);
	r.url = url_main(path);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_REDIRECT);
	assert_int_equal(tls_server_log_lines(&srv_main), before + 1);

	/* a secret header does not follow either, nor to plain http */
	snprintf(path, sizeof(path), "/redirect?to=http://localhost:%d/echo&code=307",
		 srv_plain.port);
	r.url = url_main(path);
	r.auth = DBR_HTTP_AUTH_HEADER;
	r.auth_header = "X-Vault-Token";
	r.allow_loopback_http = 1;
	before = tls_server_log_lines(&srv_plain);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_REDIRECT);
	assert_msg_has(&err, "without TLS");
	assert_int_equal(tls_server_log_lines(&srv_plain), before);
	assert_false(log_has(&srv_other, TOKEN));
	dbr_secret_free(tok);
}

static void test_timeout(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	req_init(&r, url_main("/slow/4000"));
	r.timeout_ms = 400;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_TIMEOUT);
	assert_msg_has(&err, "timed out");
	assert_null(resp.body);
}

static void test_connection_refused(void **state)
{
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char url[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* a bound port nobody listens on refuses connections */
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", ntohs(sa.sin_port));
	req_init(&r, url);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_UNREACHABLE);
	assert_msg_has(&err, "cannot connect to '127.0.0.1'");
	close(fd);
}

/* A server that takes the ClientHello and resets the connection (RST), as a
 * crashing proxy or a load balancer does mid-handshake. */
static void *reset_in_handshake(void *arg)
{
	int lfd = *(int *)arg, fd;
	struct linger lg = { 1, 0 };
	char buf[512];

	fd = accept(lfd, NULL, NULL);
	if (fd >= 0) {
		(void)!read(fd, buf, sizeof(buf));
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	return NULL;
}

/* A handshake the network cut off is a connection error (retried by the
 * request module), not a TLS refusal, and it blames no client certificate. */
static void test_handshake_reset(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	pthread_t th;
	char url[128];
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(pthread_create(&th, NULL, reset_in_handshake, &lfd), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", ntohs(sa.sin_port));
	req_init(&r, url);
	assert_int_equal(dbr_http_perform(&r, &resp, &err), DBR_E_NETWORK);
	assert_msg_has(&err, "was cut off during the TLS handshake");
	assert_null(strstr(err.msg, "client_cert"));
	pthread_join(th, NULL);
	close(lfd);
}

/* ---- trace ------------------------------------------------------------------ */

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* Run one traced request and return everything the log wrote. */
static char *traced(const char *url, enum dbr_http_auth auth, int register_token)
{
	struct dbr_mask *mask = NULL;
	struct dbr_log *log = NULL;
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *tok = token();
	int fd = tls_fixture_scratch_fd(&fx, "trace");
	char *out;

	assert_int_equal(dbr_mask_new(&mask), 0);
	if (register_token)
		assert_int_equal(dbr_mask_add_secret(mask, tok, &err), 0);
	assert_int_equal(dbr_log_new(mask, &log), 0);
	assert_int_equal(dbr_log_add_fd(log, fd), 0);
	dbr_log_set_level(log, DBR_LOG_DEBUG);
	req_init(&r, url);
	r.auth = auth;
	r.auth_header = auth == DBR_HTTP_AUTH_HEADER ? "X-Vault-Token" : NULL;
	r.auth_secret = tok;
	r.trace = log;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	/* the response itself is not masked: the caller gets the real bytes */
	assert_non_null(strstr(resp.body, TOKEN));
	dbr_http_response_release(&resp);
	dbr_log_free(log);
	dbr_mask_free(mask);
	dbr_secret_free(tok);
	out = tls_fixture_read_fd(fd);
	close(fd);
	return out;
}

static void assert_no_token(const char *trace)
{
	char *enc = b64(TOKEN);
	char *basic = b64("user:" TOKEN);

	assert_null(strstr(trace, TOKEN));
	assert_null(strstr(trace, enc));
	assert_null(strstr(trace, basic));
	/* not even a long piece of it */
	assert_null(strstr(trace, "4f1c9e2a7b3d5e60"));
	free(enc);
	free(basic);
}

static void test_trace_masked(void **state)
{
	char *t;

	(void)state;
	t = traced(url_main("/echo"), DBR_HTTP_AUTH_BEARER, 1);
	assert_non_null(strstr(t, "> GET /echo HTTP/1.1"));
	assert_non_null(strstr(t, "> Host: localhost:"));
	assert_non_null(strstr(t, "> User-Agent: dbroker/"));
	assert_non_null(strstr(t, "> Authorization:"));
	assert_non_null(strstr(t, "< HTTP/1.1 200"));
	assert_non_null(strstr(t, "< Content-Type: application/json"));
	assert_non_null(strstr(t, "\"method\": \"GET\""));
	assert_no_token(t);
	free(t);
}

static void test_trace_masked_unregistered(void **state)
{
	char *t;

	(void)state;
	/* nothing registered with the masker: the client still hides it */
	t = traced(url_main("/echo"), DBR_HTTP_AUTH_BEARER, 0);
	assert_non_null(strstr(t, "> Authorization:"));
	assert_no_token(t);
	free(t);
	t = traced(url_main("/echo"), DBR_HTTP_AUTH_HEADER, 0);
	assert_non_null(strstr(t, "> X-Vault-Token: ***"));
	assert_no_token(t);
	free(t);
	/* a redirect followed: both requests traced, still masked */
	t = traced(url_main("/redirect?to=/echo"), DBR_HTTP_AUTH_BEARER, 0);
	assert_non_null(strstr(t, "> GET /redirect?to=/echo HTTP/1.1"));
	assert_non_null(strstr(t, "< HTTP/1.1 302"));
	assert_non_null(strstr(t, "> GET /echo HTTP/1.1"));
	assert_no_token(t);
	free(t);
}

static void test_trace_secret_body(void **state)
{
	static const char body[] = "{\"role_id\":\"r-1\",\"secret_id\":\"sid-71c3e0d2a94b\"}";
	struct dbr_mask *mask = NULL;
	struct dbr_log *log = NULL;
	struct dbr_http_request r;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *sb = NULL;
	int fd = tls_fixture_scratch_fd(&fx, "trace");
	char *t, expect[64];

	(void)state;
	assert_int_equal(dbr_secret_new(body, strlen(body), &sb), 0);
	assert_int_equal(dbr_mask_new(&mask), 0);
	assert_int_equal(dbr_log_new(mask, &log), 0);
	assert_int_equal(dbr_log_add_fd(log, fd), 0);
	dbr_log_set_level(log, DBR_LOG_DEBUG);
	req_init(&r, url_main("/status/200"));
	r.method = "POST";
	r.secret_body = sb;
	r.trace = log;
	assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	dbr_http_response_release(&resp);
	dbr_log_free(log);
	dbr_mask_free(mask);
	dbr_secret_free(sb);
	t = tls_fixture_read_fd(fd);
	close(fd);
	snprintf(expect, sizeof(expect), "> body: %zu bytes, not shown", strlen(body));
	assert_non_null(strstr(t, "> POST /status/200 HTTP/1.1"));
	assert_non_null(strstr(t, expect));
	assert_null(strstr(t, "sid-71c3e0d2a94b"));
	assert_null(strstr(t, "role_id"));
	free(t);
}

static void test_trace_big_body(void **state)
{
	char *t;

	(void)state;
	/* a body over the trace cap is cut after masking, and says so */
	{
		struct dbr_mask *mask = NULL;
		struct dbr_log *log = NULL;
		struct dbr_http_request r;
		struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
		struct dbr_err err = DBR_ERR_INIT;
		int fd = tls_fixture_scratch_fd(&fx, "trace");

		assert_int_equal(dbr_mask_new(&mask), 0);
		assert_int_equal(dbr_log_new(mask, &log), 0);
		assert_int_equal(dbr_log_add_fd(log, fd), 0);
		dbr_log_set_level(log, DBR_LOG_DEBUG);
		req_init(&r, url_main("/big/200000"));
		r.trace = log;
		assert_int_equal(dbr_http_perform(&r, &resp, &err), 0);
		assert_int_equal(resp.body_len, 200000);
		dbr_http_response_release(&resp);
		dbr_log_free(log);
		dbr_mask_free(mask);
		t = tls_fixture_read_fd(fd);
		close(fd);
		assert_non_null(strstr(t, "< body: 200000 bytes"));
		assert_non_null(strstr(t, "body cut"));
		assert_true(strlen(t) < 100000);
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_and_origin),
		cmocka_unit_test(test_bearer_echo),
		cmocka_unit_test(test_secret_header),
		cmocka_unit_test(test_secret_body),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_unknown_ca),
		cmocka_unit_test(test_wrong_name_and_server_name),
		cmocka_unit_test(test_ca_sources),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_plain_http),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_error_status),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_redirect_same_origin),
		cmocka_unit_test(test_redirect_other_origin),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_handshake_reset),
		cmocka_unit_test(test_trace_masked),
		cmocka_unit_test(test_trace_masked_unregistered),
		cmocka_unit_test(test_trace_secret_body),
		cmocka_unit_test(test_trace_big_body),
	};

	return cmocka_run_group_tests(tests, group_setup, tls_fixture_group_teardown);
}
