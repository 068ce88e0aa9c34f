/* The request module against the local TLS double
 * (tests/doubles/https_test_server.py, its /flaky/ endpoint counting
 * attempts per key), with a credential resolved through the real chain. */
#include <arpa/inet.h>
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

#include "dbroker/dbroker.h"
#include "dbroker/request.h"
#include "runtime_internal.h"
#include "tls_server_fixture.h"

/* not the shape of any known token: only exact-value masking can hide it */
#define TOKEN "tok-7d2e91c04b6a3f58-unshaped-credential"
#define TOKEN_PIECE "7d2e91c04b6a3f58"

static struct tls_fixture fx;
static struct tls_server srv_main = { "main", 0, 0, "" };
static struct tls_server srv_plain = { "plain", 0, 0, "" };

/* ---- servers (tls_server_fixture.c) ------------------------------------------ */

static int group_setup(void **state)
{
	*state = &fx; /* where tls_fixture_group_teardown() finds it */
	if (tls_fixture_setup(&fx, "dbroker-request") != 0)
		return -1;
	{
		const char *tls[] = { "--cert", fx.cert, "--key", fx.key, NULL };
		const char *plain[] = { "--plain", NULL };

		if (tls_server_start(&srv_main, &fx, tls) ||
		    tls_server_start(&srv_plain, &fx, plain)) {
			tls_fixture_group_teardown(state);
			return -1;
		}
	}
	return 0;
}

/* Each test starts with the interrupt flag down. */
static int test_setup(void **state)
{
	(void)state;
	dbr_interrupt_reset();
	return 0;
}

/* ---- credential and client ---------------------------------------------------- */

struct fixture {
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	struct dbr_client *client;
	int log_fd;
};

/* Resolve TOKEN for host through the chain "env", as the CLI would. */
static void cred_for(struct fixture *f, const char *host)
{
	struct dbr_chain_options copt = { .spec = "env" };
	struct dbr_err err = DBR_ERR_INIT;

	memset(f, 0, sizeof(*f));
	f->log_fd = tls_fixture_scratch_fd(&fx, "log");
	setenv("DATABRICKS_TOKEN", TOKEN, 1);
	setenv("DATABRICKS_HOST", host, 1);
	assert_int_equal(dbr_mask_new(&f->mask), 0);
	assert_int_equal(dbr_log_new(f->mask, &f->log), 0);
	assert_int_equal(dbr_log_add_fd(f->log, f->log_fd), 0);
	assert_int_equal(dbr_config_new_empty(&f->cfg), 0);
	assert_int_equal(dbr_chain_new(&copt, f->cfg, f->mask, f->log, &f->chain, &err), 0);
	if (dbr_chain_resolve(f->chain, &f->cred, &err) != 0)
		print_message("resolve: %s\n", err.msg);
	assert_non_null(f->cred);
	assert_string_equal(dbr_credential_source(f->cred), "env");
}

static struct dbr_client_options options(long window_ms)
{
	struct dbr_client_options o;

	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.ca_file = fx.ca;
	o.timeout_ms = 20000;
	o.retry_window_ms = window_ms;
	o.profile = "prod";
	return o;
}

static const char *main_host(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "https://localhost:%d", srv_main.port);
	return buf;
}

/* A client for the TLS double. */
static void setup_client(struct fixture *f, long window_ms)
{
	struct dbr_client_options o = options(window_ms);
	struct dbr_err err = DBR_ERR_INIT;

	cred_for(f, main_host());
	o.log = f->log;
	if (dbr_client_new(f->cred, &o, &f->client, &err) != 0)
		print_message("client: %s\n", err.msg);
	assert_non_null(f->client);
	assert_string_equal(dbr_client_host(f->client), main_host());
}

/* Everything the log wrote so far. */
static char *fixture_log(struct fixture *f)
{
	return tls_fixture_read_fd(f->log_fd);
}

static void fixture_release(struct fixture *f)
{
	dbr_client_free(f->client);
	dbr_credential_free(f->cred);
	dbr_chain_free(f->chain);
	dbr_config_free(f->cfg);
	dbr_log_free(f->log);
	dbr_mask_free(f->mask);
	if (f->log_fd > 0)
		close(f->log_fd);
	unsetenv("DATABRICKS_HOST");
}

/* ---- what the server saw -------------------------------------------------------- */

/* Requests whose path starts with prefix; each must have carried exactly
 * one Authorization header, "Bearer TOKEN". */
static int requests_for(const struct tls_server *s, const char *prefix)
{
	char *txt = tls_server_log_read(s), *line, *save = NULL;
	int n = 0;

	assert_non_null(txt);
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line), *h;
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path");
		int auth = 0, good = 0;

		assert_non_null(j);
		if (cJSON_IsString(path) && strncmp(path->valuestring, prefix, strlen(prefix)) == 0) {
			n++;
			cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "headers")) {
				const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
				const char *v = cJSON_GetArrayItem(h, 1)->valuestring;

				if (strcasecmp(k, "Authorization") == 0) {
					auth++;
					good += strcmp(v, "Bearer " TOKEN) == 0;
				}
			}
			assert_int_equal(auth, 1);
			assert_int_equal(good, 1);
		}
		cJSON_Delete(j);
	}
	free(txt);
	return n;
}

/* The connection ids (the double's "conn") of the requests whose path
 * starts with prefix, in order; returns how many (at most cap). */
static int conns_for(const struct tls_server *s, const char *prefix, long *ids, int cap)
{
	char *txt = tls_server_log_read(s), *line, *save = NULL;
	int n = 0;

	assert_non_null(txt);
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path");
		const cJSON *conn = cJSON_GetObjectItemCaseSensitive(j, "conn");

		assert_non_null(j);
		if (cJSON_IsString(path) && strncmp(path->valuestring, prefix, strlen(prefix)) == 0 &&
		    n < cap) {
			assert_true(cJSON_IsNumber(conn));
			ids[n++] = (long)conn->valuedouble;
		}
		cJSON_Delete(j);
	}
	free(txt);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		print_message("missing '%s' in: %s\n", needle, text);
	assert_non_null(strstr(text, needle));
}

/* GET path with f's client; returns the code, err and api_err filled. */
static int call(struct fixture *f, const char *method, const char *path, const char *body,
		unsigned flags, struct dbr_http_response *resp, struct dbr_api_error *ae,
		struct dbr_err *err)
{
	int rc = dbr_client_call(f->client, method, path, body, body ? strlen(body) : 0, flags,
				 resp, ae, err);

	/* a message never carries the token */
	assert_null(strstr(err->msg, TOKEN_PIECE));
	return rc;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_success(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, 0);
	memset(&ae, 0x55, sizeof(ae));
	assert_int_equal(call(&f, "GET", "/api/echo?x=1", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(resp.body, "\"method\": \"GET\"");
	assert_has(resp.body, "\"path\": \"/api/echo?x=1\"");
	assert_has(resp.body, "Bearer " TOKEN);
	assert_non_null(resp.request_id);
	assert_int_equal(err.code, 0);
	assert_int_equal(ae.status, 0);
	assert_string_equal(ae.code, "");
	dbr_http_response_release(&resp);
	assert_int_equal(requests_for(&srv_main, "/api/echo?x=1"), 1);

	/* a JSON body */
	assert_int_equal(call(&f, "POST", "/api/echo", "{\"k\":1}", 0, &resp, &ae, &err), 0);
	assert_has(resp.body, "\"body\": \"{\\\"k\\\":1}\"");
	assert_has(resp.body, "application/json");
	dbr_http_response_release(&resp);

	/* a client without options: defaults (system CA store) */
	{
		struct dbr_client *c = NULL;

		assert_int_equal(dbr_client_new(f.cred, NULL, &c, &err), 0);
		assert_string_equal(dbr_client_host(c), main_host());
		dbr_client_free(c);
	}
	fixture_release(&f);
}

static void test_429_retry_after(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long t0;
	char *log;

	(void)state;
	setup_client(&f, 0);
	t0 = now_ms();
	assert_int_equal(call(&f, "GET", "/api/flaky/t429/1/429?retry_after=1&code="
			      "REQUEST_LIMIT_EXCEEDED", NULL, 0, &resp, &ae, &err), 0);
	/* the server's wait was honoured */
	assert_true(now_ms() - t0 >= 1000);
	assert_int_equal(resp.status, 200);
	assert_has(resp.body, "\"attempt\": 2");
	assert_int_equal(requests_for(&srv_main, "/api/flaky/t429/"), 2);
	dbr_http_response_release(&resp);
	log = fixture_log(&f);
	assert_has(log, "warning: the workspace answered 429 REQUEST_LIMIT_EXCEEDED; retrying in 1 s "
		   "(attempt 2, ");
	assert_has(log, "s of the retry window left)");
	free(log);
	fixture_release(&f);
}

static void test_503_retried_bearer_each_time(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long t0;

	(void)state;
	setup_client(&f, 0);
	/* no Retry-After: 1 s */
	t0 = now_ms();
	assert_int_equal(call(&f, "GET", "/api/flaky/t503/2/503", NULL, 0, &resp, &ae, &err), 0);
	assert_true(now_ms() - t0 >= 2000);
	assert_int_equal(resp.status, 200);
	/* the bearer token went exactly once with each of the three attempts */
	assert_int_equal(requests_for(&srv_main, "/api/flaky/t503/"), 3);
	dbr_http_response_release(&resp);
	fixture_release(&f);
}

static void test_500_not_retried(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, 0);
	/* a read is retried on 500 (and 502, 504) ... */
	assert_int_equal(call(&f, "GET", "/api/flaky/g500/1/500", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/g500/"), 2);
	assert_false(dbr_client_outcome_unknown(f.client));
	dbr_http_response_release(&resp);
	/* ... a write is not, even marked idempotent: it may have taken
	 * effect, and the client says the outcome is unknown */
	assert_int_equal(call(&f, "POST", "/api/flaky/t500/5/500?code=INTERNAL_ERROR&message=boom",
			      "{}", DBR_CALL_IDEMPOTENT, &resp, &ae, &err), DBR_E_API);
	assert_int_equal(err.code, DBR_E_API);
	assert_true(dbr_client_outcome_unknown(f.client));
	assert_int_equal(requests_for(&srv_main, "/api/flaky/t500/"), 1);
	assert_int_equal(ae.status, 500);
	assert_string_equal(ae.code, "INTERNAL_ERROR");
	assert_string_equal(ae.message, "boom");
	assert_has(err.msg, "the workspace '");
	assert_has(err.msg, "' answered 500 INTERNAL_ERROR: boom (request id test-");
	assert_has(err.msg, "try again later");
	assert_null(resp.body);
	fixture_release(&f);
}

static void test_post_needs_idempotent(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "POST", "/api/flaky/p503/1/503", "{}", 0, &resp, &ae, &err),
			 DBR_E_API);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/p503/"), 1);
	assert_has(err.msg, "answered 503 TEST_503");
	assert_has(err.msg, "not retried: a POST is repeated only when the call is marked "
		   "idempotent");
	assert_int_equal(ae.status, 503);

	assert_int_equal(call(&f, "POST", "/api/flaky/p503i/1/503", "{\"idempotency_token\":\"x\"}",
			      DBR_CALL_IDEMPOTENT, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/p503i/"), 2);
	dbr_http_response_release(&resp);

	/* no answer at all: the same rule */
	assert_int_equal(call(&f, "POST", "/api/flaky/prst/1/reset", "{}", 0, &resp, &ae, &err),
			 DBR_E_NETWORK);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/prst/"), 1);
	assert_has(err.msg, "not retried");
	assert_int_equal(ae.status, 0);
	fixture_release(&f);
}

static void test_reset_retried(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char *log;

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/flaky/rst/1/reset", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/rst/"), 2);
	dbr_http_response_release(&resp);
	log = fixture_log(&f);
	assert_has(log, "warning: ");
	assert_has(log, "retrying in 1");
	assert_has(log, "(attempt 2, ");
	free(log);
	fixture_release(&f);
}

/* A redirect to another host is refused at once: the server would answer
 * the same on every try, so the retry window is not spent on it. */
static void test_refused_redirect_not_retried(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char path[256];
	long t0;
	int redirects, echoes;

	(void)state;
	setup_client(&f, 0);
	redirects = requests_for(&srv_main, "/api/redirect");
	echoes = requests_for(&srv_main, "/api/echo");
	snprintf(path, sizeof(path), "/api/redirect?to=https://127.0.0.1:%d/api/echo",
		 srv_main.port);
	t0 = dbr_mono_ms();
	assert_int_equal(call(&f, "GET", path, NULL, 0, &resp, &ae, &err), DBR_E_REDIRECT);
	assert_true(dbr_mono_ms() - t0 < 1000);
	assert_has(err.msg, "refuses to forward credentials to another host");
	assert_int_equal(requests_for(&srv_main, "/api/redirect"), redirects + 1);
	assert_int_equal(requests_for(&srv_main, "/api/echo"), echoes);
	fixture_release(&f);
}

static void test_transient_message_retried(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char *log;

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/flaky/cnr/1/400?code=INVALID_STATE&message=x."
			      "ClusterNotReadyException:+starting", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/cnr/"), 2);
	dbr_http_response_release(&resp);
	log = fixture_log(&f);
	assert_has(log, "the workspace answered 400 INVALID_STATE (ClusterNotReadyException); "
		   "retrying in 1");
	free(log);
	fixture_release(&f);
}

static void test_window_exhausted(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long t0;

	(void)state;
	setup_client(&f, 1500);
	/* 429 forever, 1 s each: the third wait would pass the window */
	t0 = now_ms();
	assert_int_equal(call(&f, "GET", "/api/flaky/win/100/429?code=REQUEST_LIMIT_EXCEEDED",
			      NULL, 0, &resp, &ae, &err), DBR_E_TIMEOUT);
	assert_true(now_ms() - t0 >= 1000);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/win/"), 2);
	assert_has(err.msg, "gave up after 2 attempts in ");
	assert_has(err.msg, "answered 429 REQUEST_LIMIT_EXCEEDED");
	assert_has(err.msg, "the next wait of 1 s would pass the 1.5 s retry window (");
	assert_has(err.msg, " s left): try again later");
	assert_int_equal(ae.status, 429);
	assert_null(resp.body);

	/* the server asks for longer than the window: no point waiting at all */
	assert_int_equal(call(&f, "GET", "/api/flaky/wina/100/503?retry_after=5", NULL, 0, &resp,
			      &ae, &err), DBR_E_TIMEOUT);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/wina/"), 1);
	assert_has(err.msg, "gave up after 1 attempt in ");
	assert_has(err.msg, "answered 503 TEST_503");
	assert_has(err.msg, "it asked to wait 5 s, more than the ");
	assert_has(err.msg, "s left of the 1.5 s retry window: try again later");

	/* no answer at all: backoff, the last wait cut to the window's end
	 * (2 or 3 attempts; the first rode the kept-alive connection, so it
	 * went once more at once on a new one) */
	assert_int_equal(call(&f, "GET", "/api/flaky/winr/100/reset", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_in_range(requests_for(&srv_main, "/api/flaky/winr/"), 3, 4);
	assert_has(err.msg, "gave up after ");
	assert_has(err.msg, "the 1.5 s retry window is used up: try again later");

	/* a per-request timeout is retried too */
	fixture_release(&f);
	{
		struct dbr_client_options o = options(1200);

		cred_for(&f, main_host());
		o.timeout_ms = 300;
		assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	}
	assert_int_equal(call(&f, "GET", "/api/slow/3000?k=timeout", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_in_range(requests_for(&srv_main, "/api/slow/3000?k=timeout"), 2, 3);
	assert_has(err.msg, "gave up after ");
	assert_has(err.msg, "timed out");
	assert_has(err.msg, "check that the server is reachable");
	assert_has(err.msg, "try again later");
	assert_null(strstr(err.msg, TOKEN));
	fixture_release(&f);
}

static void test_no_retries(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, -1);
	assert_int_equal(call(&f, "GET", "/api/flaky/off/1/503", NULL, 0, &resp, &ae, &err),
			 DBR_E_API);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/off/"), 1);
	assert_has(err.msg, "answered 503 TEST_503");
	assert_null(strstr(err.msg, "gave up"));
	fixture_release(&f);
}

static void test_auth_errors(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char expect[256];

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/flaky/a403/9/403?code=PERMISSION_DENIED&message="
			      "Invalid+access+token.", NULL, 0, &resp, &ae, &err), DBR_E_AUTH);
	assert_int_equal(err.code, DBR_E_AUTH);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/a403/"), 1);
	snprintf(expect, sizeof(expect), "the workspace '%s' rejected the token from provider "
		 "'env' (profile 'prod'): 403 PERMISSION_DENIED: Invalid access token. (request id "
		 "test-", main_host());
	assert_has(err.msg, expect);
	assert_has(err.msg, "check that it has not expired or been revoked");
	assert_has(err.msg, "DATABRICKS_TOKEN");
	assert_int_equal(ae.status, 403);
	assert_string_equal(ae.code, "PERMISSION_DENIED");
	assert_null(resp.body);

	assert_int_equal(call(&f, "GET", "/api/flaky/a401/9/401?code=UNAUTHENTICATED", NULL, 0,
			      &resp, &ae, &err), DBR_E_AUTH);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/a401/"), 1);
	assert_has(err.msg, "rejected the token from provider 'env' (profile 'prod'): 401 "
		   "UNAUTHENTICATED: attempt 1 for a401");
	/* even a POST marked idempotent is not repeated with a rejected token */
	assert_int_equal(call(&f, "POST", "/api/flaky/a401p/9/401", "{}", DBR_CALL_IDEMPOTENT,
			      &resp, &ae, &err), DBR_E_AUTH);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/a401p/"), 1);
	fixture_release(&f);

	/* without a profile name */
	{
		struct dbr_client_options o = options(0);

		cred_for(&f, main_host());
		o.profile = NULL;
		assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	}
	assert_int_equal(call(&f, "GET", "/api/flaky/a401n/9/401", NULL, 0, &resp, &ae, &err),
			 DBR_E_AUTH);
	assert_has(err.msg, "from provider 'env': 401 TEST_401");
	assert_null(strstr(err.msg, "profile"));
	fixture_release(&f);
}

static void test_api_error_400(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/status/400", NULL, 0, &resp, &ae, &err), DBR_E_API);
	assert_int_equal(ae.status, 400);
	assert_string_equal(ae.code, "TEST_400");
	assert_string_equal(ae.message, "status 400 as asked");
	assert_int_equal(strncmp(ae.request_id, "test-", 5), 0);
	assert_has(err.msg, "answered 400 TEST_400: status 400 as asked (request id test-");
	assert_int_equal(requests_for(&srv_main, "/api/status/400"), 1);
	assert_null(resp.body);

	/* 404 from an unknown endpoint */
	assert_int_equal(call(&f, "GET", "/api/2.0/nothing", NULL, 0, &resp, &ae, &err), DBR_E_API);
	assert_string_equal(ae.code, "ENDPOINT_NOT_FOUND");
	assert_has(err.msg, "answered 404 ENDPOINT_NOT_FOUND: no endpoint /api/2.0/nothing");
	/* a long server message is cut, the advice after it stays */
	{
		static char path[1400];
		int n = snprintf(path, sizeof(path), "/api/flaky/long/9/403?message=");

		memset(path + n, 'm', 1200);
		path[n + 1200] = '\0';
		assert_int_equal(call(&f, "GET", path, NULL, 0, &resp, &ae, &err), DBR_E_AUTH);
		assert_int_equal(strlen(ae.message), sizeof(ae.message) - 1);
		assert_has(err.msg, "mmm... (request id test-");
		assert_has(err.msg, "then put a valid one in DATABRICKS_TOKEN");
	}
	/* api_err may be NULL */
	assert_int_equal(dbr_client_call(f.client, "GET", "/api/status/409", NULL, 0, 0, &resp,
					 NULL, &err), DBR_E_API);
	assert_has(err.msg, "answered 409 TEST_409");
	fixture_release(&f);
}

static void test_plain_http(void **state)
{
	struct fixture f;
	struct dbr_client_options o = options(0);
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_client *c = NULL;
	char host[64];
	size_t before = tls_server_log_lines(&srv_plain);

	(void)state;
	/* never to another machine, opt-in or not */
	cred_for(&f, "http://example.invalid");
	o.allow_insecure_loopback = 1;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	assert_null(c);
	assert_has(err.msg, "'http://example.invalid'");
	assert_has(err.msg, "never sends a token over plain HTTP");
	fixture_release(&f);

	/* to this machine only with the opt-in */
	snprintf(host, sizeof(host), "http://127.0.0.1:%d", srv_plain.port);
	cred_for(&f, host);
	o.allow_insecure_loopback = 0;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	assert_has(err.msg, "allow_insecure_loopback");
	o.allow_insecure_loopback = 1;
	assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	assert_int_equal(call(&f, "GET", "/api/echo", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(requests_for(&srv_plain, "/api/echo"), 1);
	assert_int_equal(tls_server_log_lines(&srv_plain), before + 1);
	dbr_http_response_release(&resp);
	fixture_release(&f);

	/* https:// needs no opt-in; the opt-in does not matter for it */
	cred_for(&f, main_host());
	assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	fixture_release(&f);
}

static void test_bad_arguments(void **state)
{
	static const char *const bad_paths[] = {
		"/echo", "api/echo", "/apix/echo", "/api/echo with space", "/api/echo\r\nX-A: 1",
		"/api/echo\n", "/api/e\x7f", "/api/caf\xc3\xa9", "/api/../echo", "/api/x/./y",
		"/api/x/..", "/api/echo#frag", "",
	};
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_client_options o = options(0);
	struct dbr_client *c = NULL;
	size_t before;
	char *longpath;

	(void)state;
	setup_client(&f, 0);
	before = tls_server_log_lines(&srv_main);
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		assert_int_equal(call(&f, "GET", bad_paths[i], NULL, 0, &resp, &ae, &err),
				 DBR_E_INVAL);
		assert_null(strchr(err.msg, '\n'));
		assert_null(strchr(err.msg, '\r'));
	}
	assert_int_equal(call(&f, "GET", NULL, NULL, 0, &resp, &ae, &err), DBR_E_INVAL);
	longpath = malloc(5000);
	assert_non_null(longpath);
	memcpy(longpath, "/api/", 5);
	memset(longpath + 5, 'a', 4990);
	longpath[4995] = '\0';
	assert_int_equal(call(&f, "GET", longpath, NULL, 0, &resp, &ae, &err), DBR_E_INVAL);
	free(longpath);
	assert_int_equal(call(&f, "get", "/api/echo", NULL, 0, &resp, &ae, &err), DBR_E_INVAL);
	assert_int_equal(call(&f, NULL, "/api/echo", NULL, 0, &resp, &ae, &err), DBR_E_INVAL);
	assert_int_equal(call(&f, "GE T", "/api/echo", NULL, 0, &resp, &ae, &err), DBR_E_INVAL);
	assert_int_equal(dbr_client_call(f.client, "POST", "/api/echo", NULL, 5, 0, &resp, &ae,
					 &err), DBR_E_INVAL);
	assert_int_equal(dbr_client_call(f.client, "GET", "/api/echo", NULL, 0, 0, NULL, &ae,
					 &err), DBR_E_INVAL);
	assert_int_equal(dbr_client_call(NULL, "GET", "/api/echo", NULL, 0, 0, &resp, &ae, &err),
			 DBR_E_INVAL);
	/* nothing reached the server */
	assert_int_equal(tls_server_log_lines(&srv_main), before);

	/* options */
	o.struct_size = 0;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	o = options(0);
	o.timeout_ms = -1;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	/* over 24 hours: what the agent would refuse is refused here too */
	o = options(0);
	o.retry_window_ms = DBR_CLIENT_MAX_WINDOW_MS + 1;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	o = options(0);
	o.timeout_ms = DBR_CLIENT_MAX_WINDOW_MS + 1;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	o = options(0);
	o.unreachable_window_ms = DBR_CLIENT_MAX_WINDOW_MS + 1;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), DBR_E_INVAL);
	o = options(0);
	o.retry_window_ms = DBR_CLIENT_MAX_WINDOW_MS;
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), 0);
	dbr_client_free(c);
	c = NULL;
	assert_int_equal(dbr_client_new(NULL, NULL, &c, &err), DBR_E_INVAL);
	assert_int_equal(dbr_client_new(f.cred, NULL, NULL, &err), DBR_E_INVAL);
	assert_null(c);
	/* an older caller's shorter struct: the missing fields count as zero */
	o = options(0);
	o.struct_size = (uint32_t)offsetof(struct dbr_client_options, timeout_ms);
	assert_int_equal(dbr_client_new(f.cred, &o, &c, &err), 0);
	dbr_client_free(c);
	dbr_client_free(NULL);
	assert_null(dbr_client_host(NULL));
	fixture_release(&f);
}

static void *interrupter(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	dbr_client_interrupt();
	return NULL;
}

static void test_interrupt(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	pthread_t th;
	long t0;

	(void)state;
	setup_client(&f, 0);
	assert_false(dbr_client_interrupted());
	assert_int_equal(pthread_create(&th, NULL, interrupter, NULL), 0);
	t0 = now_ms();
	assert_int_equal(call(&f, "GET", "/api/flaky/intr/100/429?retry_after=30", NULL, 0, &resp,
			      &ae, &err), DBR_E_INTERRUPTED);
	/* long before the 30 s the server asked for */
	assert_true(now_ms() - t0 < 25000);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(dbr_client_interrupted());
	assert_has(err.msg, "interrupted while waiting to retry 'GET /api/flaky/intr/");
	assert_int_equal(requests_for(&srv_main, "/api/flaky/intr/"), 1);
	assert_int_equal(ae.status, 429);
	assert_null(resp.body);

	/* once interrupted, nothing more is sent, and sleeps end at once */
	assert_int_equal(call(&f, "GET", "/api/flaky/intr/100/429", NULL, 0, &resp, &ae, &err),
			 DBR_E_INTERRUPTED);
	assert_has(err.msg, "interrupted before 'GET /api/flaky/intr/100/429' was sent");
	assert_int_equal(requests_for(&srv_main, "/api/flaky/intr/"), 1);
	assert_int_equal(dbr_client_sleep(60000), DBR_E_INTERRUPTED);

	dbr_interrupt_reset();
	assert_false(dbr_client_interrupted());
	t0 = now_ms();
	assert_int_equal(dbr_client_sleep(120), 0);
	assert_true(now_ms() - t0 >= 120);
	assert_int_equal(dbr_client_sleep(0), 0);
	assert_int_equal(dbr_client_sleep(-5), 0);
	fixture_release(&f);
}

static void test_debug_trace(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char *log;

	(void)state;
	setup_client(&f, 0);
	dbr_log_set_level(f.log, DBR_LOG_DEBUG);
	/* the echo answer holds the token: the trace logs bodies */
	assert_int_equal(call(&f, "GET", "/api/echo?trace=1", NULL, 0, &resp, &ae, &err), 0);
	assert_has(resp.body, TOKEN);
	dbr_http_response_release(&resp);
	assert_int_equal(call(&f, "GET", "/api/flaky/trace/1/429?retry_after=1", NULL, 0, &resp,
			      &ae, &err), 0);
	dbr_http_response_release(&resp);
	assert_int_equal(call(&f, "GET", "/api/flaky/trace401/1/401", NULL, 0, &resp, &ae, &err),
			 DBR_E_AUTH);
	log = fixture_log(&f);
	assert_has(log, "request: GET /api/echo?trace=1: 200 (attempt 1, ");
	assert_has(log, "> GET /api/echo?trace=1 HTTP/1.1");
	assert_has(log, "> Authorization:");
	assert_has(log, "< HTTP/1.1 200");
	assert_has(log, "request: GET /api/flaky/trace/1/429?retry_after=1: 429 (attempt 1, ");
	assert_has(log, "request: GET /api/flaky/trace/1/429?retry_after=1: 200 (attempt 2, ");
	assert_has(log, "retrying in 1 s (attempt 2, ");
	assert_has(log, "\"path\": \"/api/echo?trace=1\"");
	assert_null(strstr(log, TOKEN));
	assert_null(strstr(log, TOKEN_PIECE));
	free(log);
	fixture_release(&f);

	/* below DEBUG: no trace at all */
	setup_client(&f, 0);
	dbr_log_set_level(f.log, DBR_LOG_INFO);
	assert_int_equal(call(&f, "GET", "/api/echo?trace=0", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	log = fixture_log(&f);
	assert_null(strstr(log, "> GET"));
	assert_null(strstr(log, "request: "));
	free(log);
	fixture_release(&f);
}

/* One TLS connection for a run: the calls of a client ride the
 * connection the first one opened, as long as the server keeps it. */
static void test_keepalive_one_connection(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long ids[8];

	(void)state;
	setup_client(&f, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(call(&f, i % 2 ? "POST" : "GET", "/api/echo?ka=1",
				      i % 2 ? "{}" : NULL, 0, &resp, &ae, &err), 0);
		dbr_http_response_release(&resp);
	}
	assert_int_equal(conns_for(&srv_main, "/api/echo?ka=1", ids, 8), 4);
	for (int i = 1; i < 4; i++)
		assert_int_equal(ids[i], ids[0]);
	/* a second client of the same process shares the cache too */
	fixture_release(&f);
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/echo?ka=2", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	assert_int_equal(conns_for(&srv_main, "/api/echo?ka=2", ids + 4, 1), 1);
	assert_int_equal(ids[4], ids[0]);
	fixture_release(&f);
}

/* A kept-alive connection that dies after the request went out: libcurl
 * would resend it on a fresh connection by itself. A POST that is not
 * marked idempotent must reach the server once, the failure the caller's
 * to see. A GET goes once more, at once, on a new connection (the server
 * closing an idle connection as the request arrives is ordinary); if that
 * one fails too, the policy retries it, logged and counted. */
static void test_dropped_keepalive_not_replayed(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long ids[8];
	char *log;

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(call(&f, "GET", "/api/echo?warm=1", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	assert_int_equal(call(&f, "POST", "/api/flaky/kadrop/1/reset", "{}", 0, &resp, &ae, &err),
			 DBR_E_NETWORK);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/kadrop/"), 1);
	assert_has(err.msg, "closed the kept-alive connection without answering, after the "
		   "request was sent");
	assert_has(err.msg, "not retried");
	/* it did ride the warm connection */
	assert_int_equal(conns_for(&srv_main, "/api/echo?warm=1", ids, 1), 1);
	assert_int_equal(conns_for(&srv_main, "/api/flaky/kadrop/", ids + 1, 1), 1);
	assert_int_equal(ids[1], ids[0]);

	/* a GET: sent again at once on a new connection, no retry logged */
	assert_int_equal(call(&f, "GET", "/api/echo?warm=2", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	assert_int_equal(call(&f, "GET", "/api/flaky/kaget/1/reset", NULL, 0, &resp, &ae, &err), 0);
	assert_int_equal(resp.status, 200);
	dbr_http_response_release(&resp);
	assert_int_equal(conns_for(&srv_main, "/api/echo?warm=2", ids, 1), 1);
	assert_int_equal(conns_for(&srv_main, "/api/flaky/kaget/", ids + 1, 2), 2);
	assert_int_equal(ids[1], ids[0]);
	assert_true(ids[2] != ids[1]);
	log = fixture_log(&f);
	assert_null(strstr(log, "closed the kept-alive connection"));
	assert_null(strstr(log, "retrying in "));
	free(log);

	/* once only: the new connection reset too is the policy's retry */
	assert_int_equal(call(&f, "GET", "/api/echo?warm=3", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	assert_int_equal(call(&f, "GET", "/api/flaky/ka2get/2/reset", NULL, 0, &resp, &ae, &err),
			 0);
	assert_int_equal(resp.status, 200);
	dbr_http_response_release(&resp);
	assert_int_equal(requests_for(&srv_main, "/api/flaky/ka2get/"), 3);
	assert_int_equal(conns_for(&srv_main, "/api/flaky/ka2get/", ids, 3), 3);
	assert_true(ids[0] != ids[1] && ids[1] != ids[2]);
	log = fixture_log(&f);
	assert_has(log, "closed the connection without answering");
	assert_has(log, "retrying in ");
	free(log);
	fixture_release(&f);
}

/* A bound port nobody listens on: connections to it are refused. Returns
 * the socket (close it after) and writes "https://127.0.0.1:PORT". */
static int refused_port(char *url, size_t cap)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, cap, "https://127.0.0.1:%d", ntohs(sa.sin_port));
	return fd;
}

/* An unreachable host: retried (any method: nothing was sent) for the short
 * unreachable window, then DBR_E_UNREACHABLE, not a timeout; a name that
 * does not exist fails at once. Neither leaves the outcome in doubt. */
static void test_unreachable(void **state)
{
	struct fixture f;
	struct dbr_client_options o = options(30000);
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	char url[64], *log;
	int fd = refused_port(url, sizeof(url));
	long t0;

	(void)state;
	cred_for(&f, url);
	o.log = f.log;
	o.unreachable_window_ms = 1200;
	assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	t0 = now_ms();
	assert_int_equal(call(&f, "POST", "/api/2.1/clusters/create", "{}", 0, &resp, &ae, &err),
			 DBR_E_UNREACHABLE);
	assert_true(now_ms() - t0 < 5000);
	assert_has(err.msg, "gave up after ");
	assert_has(err.msg, "cannot connect to '127.0.0.1'");
	assert_has(err.msg, "still unreachable after 1.2 s");
	assert_false(dbr_client_outcome_unknown(f.client));
	log = fixture_log(&f);
	assert_has(log, "retrying in ");
	free(log);
	close(fd);
	fixture_release(&f);

	cred_for(&f, "https://no-such-host.invalid");
	o.log = f.log;
	assert_int_equal(dbr_client_new(f.cred, &o, &f.client, &err), 0);
	t0 = now_ms();
	assert_int_equal(call(&f, "GET", "/api/2.1/clusters/list", NULL, 0, &resp, &ae, &err),
			 DBR_E_NO_SUCH_HOST);
	assert_true(now_ms() - t0 < 5000);
	assert_has(err.msg, "the host name 'no-such-host.invalid' does not exist");
	log = fixture_log(&f);
	assert_null(strstr(log, "retrying"));
	free(log);
	fixture_release(&f);
}

/* A command's deadline bounds the attempt on the wire and the retries. */
static void test_deadline(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;
	long t0;

	(void)state;
	setup_client(&f, 0);
	t0 = now_ms();
	dbr_client_set_deadline(f.client, dbr_mono_ms() + 800);
	assert_int_equal(call(&f, "GET", "/api/slow/4000", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_true(now_ms() - t0 < 2000);
	/* retries stop at the deadline, with the reason */
	t0 = now_ms();
	dbr_client_set_deadline(f.client, dbr_mono_ms() + 1500);
	assert_int_equal(call(&f, "GET", "/api/flaky/dl/100/503", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_true(now_ms() - t0 < 2500);
	assert_has(err.msg, "timeout ran out");
	/* past the deadline nothing is sent */
	dbr_client_set_deadline(f.client, dbr_mono_ms() - 1);
	assert_int_equal(call(&f, "GET", "/api/echo?late=1", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_int_equal(requests_for(&srv_main, "/api/echo?late=1"), 0);
	dbr_client_set_deadline(f.client, 0);
	assert_int_equal(call(&f, "GET", "/api/echo?late=2", NULL, 0, &resp, &ae, &err), 0);
	dbr_http_response_release(&resp);
	fixture_release(&f);
}

/* ---- dbr_client_forward ------------------------------------------------------------ */

struct sink {
	long statuses[8];
	size_t n_statuses;
	int stream;          /* what on_headers answers for a 2xx */
	int saw_request_id;
	size_t bytes;
	size_t stop_after;   /* on_data stops the transfer past this many; 0: never */
	int all_x;           /* the body is /big/'s "xxx..." */
};

static int sink_headers(void *arg, long status, const struct dbr_http_header *h, size_t n)
{
	struct sink *s = arg;

	if (s->n_statuses < 8)
		s->statuses[s->n_statuses++] = status;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, "X-Request-Id") == 0 && strncmp(h[i].value, "test-", 5) == 0)
			s->saw_request_id = 1;
	return status >= 200 && status <= 299 ? s->stream : 0;
}

static int sink_data(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	for (size_t i = 0; s->all_x && i < len; i++)
		assert_int_equal(data[i], 'x');
	s->bytes += len;
	return s->stop_after && s->bytes > s->stop_after;
}

static int forward(struct fixture *f, const char *method, const char *path, unsigned flags,
		   struct sink *s, struct dbr_http_response *resp, struct dbr_err *err)
{
	struct dbr_forward fw;

	memset(&fw, 0, sizeof(fw));
	fw.struct_size = sizeof(fw);
	fw.method = method;
	fw.path = path;
	fw.flags = flags;
	fw.on_headers = sink_headers;
	fw.on_data = sink_data;
	fw.stream_arg = s;
	return dbr_client_forward(f->client, &fw, resp, err);
}

static void test_forward_streams_2xx(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct sink s = { .stream = 1, .all_x = 1 };

	(void)state;
	setup_client(&f, 0);
	/* over the 16 MiB a collected answer may have: streaming has no cap */
	assert_int_equal(forward(&f, "GET", "/big/17000000?chunked=1", 0, &s, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 0);
	assert_int_equal(s.bytes, 17000000);
	assert_int_equal(s.n_statuses, 1);
	assert_true(s.saw_request_id);
	dbr_http_response_release(&resp);
	/* a path outside /api/, and the same with a collected body */
	memset(&s, 0, sizeof(s));
	assert_int_equal(forward(&f, "GET", "/big/10", 0, &s, &resp, &err), 0);
	assert_int_equal(resp.body_len, 10);
	assert_int_equal(s.bytes, 0);
	dbr_http_response_release(&resp);
	/* the receiver stops: the transfer ends, the call says so */
	memset(&s, 0, sizeof(s));
	s.stream = 1;
	s.all_x = 1;
	s.stop_after = 100000;
	assert_int_equal(forward(&f, "GET", "/big/5000000", 0, &s, &resp, &err),
			 DBR_E_INTERRUPTED);
	assert_true(s.bytes < 5000000);
	assert_int_equal(requests_for(&srv_main, "/big/"), 3);
	fixture_release(&f);
}

/* A client whose requests time out after 1 s, without retries. */
static void setup_client_1s(struct fixture *f)
{
	struct dbr_client_options o = options(-1);
	struct dbr_err err = DBR_ERR_INIT;

	cred_for(f, main_host());
	o.log = f->log;
	o.timeout_ms = 1000;
	if (dbr_client_new(f->cred, &o, &f->client, &err) != 0)
		print_message("client: %s\n", err.msg);
	assert_non_null(f->client);
}

/* A streamed answer may take longer than the timeout as long as it keeps
 * coming (a large or slow download through the exec proxy); only a stall
 * of the timeout ends it, and the message says so. */
static void test_forward_stream_outlasts_the_timeout(void **state)
{
	static const char *const slow[] = {
		"/trickle/6/400",           /* kept connection, sized */
		"/trickle/6/400?chunked=1", /* kept connection, chunked */
	};
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct sink s;
	long t0;

	(void)state;
	setup_client_1s(&f);
	for (size_t i = 0; i < 3; i++) {
		/* the third: a POST, which libcurl carries */
		memset(&s, 0, sizeof(s));
		s.stream = 1;
		s.all_x = 1;
		t0 = now_ms();
		if (forward(&f, i < 2 ? "GET" : "POST", i < 2 ? slow[i] : slow[0], 0, &s, &resp,
			    &err))
			print_message("%s: %s\n", i < 2 ? slow[i] : "POST", err.msg);
		assert_int_equal(err.code, 0);
		assert_int_equal(s.bytes, 6 * 1024);
		assert_true(now_ms() - t0 >= 1900);
		dbr_http_response_release(&resp);
	}
	/* nothing for longer than the timeout: cut, and named a stall */
	for (size_t i = 0; i < 2; i++) {
		memset(&s, 0, sizeof(s));
		s.stream = 1;
		assert_int_equal(forward(&f, i ? "POST" : "GET", "/trickle/3/2500", 0, &s, &resp,
					 &err), DBR_E_TIMEOUT);
		assert_has(err.msg, "stalled");
		assert_true(s.bytes >= 1024 && s.bytes < 3 * 1024);
	}
	fixture_release(&f);
}

static void test_forward_error_answers_are_results(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct sink s = { .stream = 1 };

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(forward(&f, "GET", "/status/404", 0, &s, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	assert_has(resp.body, "error_code");
	assert_int_equal(s.bytes, 0);
	dbr_http_response_release(&resp);
	/* a GET is retried before anything is streamed; the 2xx then streams */
	memset(&s, 0, sizeof(s));
	s.stream = 1;
	assert_int_equal(forward(&f, "GET", "/flaky/fwd-get/1/503", 0, &s, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(s.n_statuses, 2);
	assert_int_equal(s.statuses[0], 503);
	assert_int_equal(s.statuses[1], 200);
	dbr_http_response_release(&resp);
	/* a POST is not: its 503 is the result */
	memset(&s, 0, sizeof(s));
	assert_int_equal(forward(&f, "POST", "/flaky/fwd-post/1/503", 0, &s, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	dbr_http_response_release(&resp);
	fixture_release(&f);
}

/* A write whose connection drops after it was sent may have taken effect. */
static void test_outcome_unknown(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error ae;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setup_client(&f, 2500);
	assert_int_equal(call(&f, "POST", "/api/flaky/ou1/1/reset", "{}", 0, &resp, &ae, &err),
			 DBR_E_NETWORK);
	assert_true(dbr_client_outcome_unknown(f.client));
	/* a 4xx: the server refused it, nothing happened */
	assert_int_equal(call(&f, "POST", "/api/flaky/ou2/1/400", "{}", 0, &resp, &ae, &err),
			 DBR_E_API);
	assert_false(dbr_client_outcome_unknown(f.client));
	/* idempotent, the retry succeeded: known */
	assert_int_equal(call(&f, "POST", "/api/flaky/ou3/1/reset", "{}", DBR_CALL_IDEMPOTENT,
			      &resp, &ae, &err), 0);
	assert_false(dbr_client_outcome_unknown(f.client));
	dbr_http_response_release(&resp);
	/* a GET never leaves doubt */
	assert_int_equal(call(&f, "GET", "/api/flaky/ou4/100/500", NULL, 0, &resp, &ae, &err),
			 DBR_E_TIMEOUT);
	assert_false(dbr_client_outcome_unknown(f.client));
	fixture_release(&f);
}

static void test_forward_checks_and_no_auth(void **state)
{
	struct fixture f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_http_header h = { "Authorization", "Bearer something" };
	struct dbr_forward fw;
	struct sink s = { 0 };

	(void)state;
	setup_client(&f, 0);
	assert_int_equal(forward(&f, "GET", "/echo", DBR_CALL_NO_AUTH, &s, &resp, &err), 0);
	assert_null(strstr(resp.body, "Authorization"));
	assert_null(strstr(resp.body, TOKEN_PIECE));
	dbr_http_response_release(&resp);
	assert_int_equal(forward(&f, "GET", "echo", 0, &s, &resp, &err), DBR_E_INVAL);
	assert_int_equal(forward(&f, "GET", "/a/../echo", 0, &s, &resp, &err), DBR_E_INVAL);
	/* the message leaves the query out; dot segments in it are a value's */
	assert_int_equal(forward(&f, "GET", "/a/..?q=xyzzy", 0, &s, &resp, &err), DBR_E_INVAL);
	assert_null(strstr(err.msg, "xyzzy"));
	assert_int_equal(forward(&f, "GET", "/echo?path=/Users/a/../b/.", DBR_CALL_NO_AUTH, &s,
				 &resp, &err), 0);
	assert_non_null(strstr(resp.body, "/echo?path=/Users/a/../b/."));
	dbr_http_response_release(&resp);
	assert_int_equal(forward(&f, "get", "/echo", 0, &s, &resp, &err), DBR_E_INVAL);
	/* a credential header from the caller is refused, never sent */
	memset(&fw, 0, sizeof(fw));
	fw.struct_size = sizeof(fw);
	fw.method = "GET";
	fw.path = "/echo";
	fw.headers = &h;
	fw.n_headers = 1;
	assert_int_equal(dbr_client_forward(f.client, &fw, &resp, &err), DBR_E_INVAL);
	assert_int_equal(resp.status, 0);
	fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_success, test_setup),
		cmocka_unit_test_setup(test_429_retry_after, test_setup),
		cmocka_unit_test_setup(test_503_retried_bearer_each_time, test_setup),
		cmocka_unit_test_setup(test_500_not_retried, test_setup),
		cmocka_unit_test_setup(test_post_needs_idempotent, test_setup),
		cmocka_unit_test_setup(test_reset_retried, test_setup),
		cmocka_unit_test_setup(test_refused_redirect_not_retried, test_setup),
		cmocka_unit_test_setup(test_transient_message_retried, test_setup),
		cmocka_unit_test_setup(test_window_exhausted, test_setup),
		cmocka_unit_test_setup(test_no_retries, test_setup),
		cmocka_unit_test_setup(test_auth_errors, test_setup),
		cmocka_unit_test_setup(test_api_error_400, test_setup),
		cmocka_unit_test_setup(test_plain_http, test_setup),
		cmocka_unit_test_setup(test_bad_arguments, test_setup),
		cmocka_unit_test_setup(test_interrupt, test_setup),
		cmocka_unit_test_setup(test_debug_trace, test_setup),
		cmocka_unit_test_setup(test_keepalive_one_connection, test_setup),
		cmocka_unit_test_setup(test_dropped_keepalive_not_replayed, test_setup),
		cmocka_unit_test_setup(test_unreachable, test_setup),
		cmocka_unit_test_setup(test_deadline, test_setup),
		cmocka_unit_test_setup(test_outcome_unknown, test_setup),
		cmocka_unit_test_setup(test_forward_streams_2xx, test_setup),
		cmocka_unit_test_setup(test_forward_stream_outlasts_the_timeout, test_setup),
		cmocka_unit_test_setup(test_forward_error_answers_are_results, test_setup),
		cmocka_unit_test_setup(test_forward_checks_and_no_auth, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, tls_fixture_group_teardown);
}
