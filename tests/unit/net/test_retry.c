/* The retry policy as tables: every classification row, delay bounds,
 * jitter range, Retry-After and the retry window. No network, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dbroker/request.h"
#include "retry.h"

static struct dbr_api_error api(long status, const char *code, const char *message)
{
	struct dbr_api_error e;

	memset(&e, 0, sizeof(e));
	e.status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	snprintf(e.message, sizeof(e.message), "%s", message);
	return e;
}

struct row {
	int rc;
	long status;
	const char *code;
	const char *message;
	const char *method;
	int idempotent;
	enum dbr_retry_class want;
};

#define Y DBR_RETRY_YES
#define N DBR_RETRY_NO
#define U DBR_RETRY_UNSAFE

static const struct row rows[] = {
	/* success is final */
	{ 0, 200, "", "", "GET", 0, N },
	{ 0, 204, "", "", "POST", 1, N },
	/* 429 and 503, whatever the body says */
	{ 0, 429, "REQUEST_LIMIT_EXCEEDED", "slow down", "GET", 0, Y },
	{ 0, 429, "", "", "GET", 0, Y },
	{ 0, 503, "TEMPORARILY_UNAVAILABLE", "later", "GET", 0, Y },
	{ 0, 503, "", "No webapps are available", "HEAD", 0, Y },
	{ 0, 503, "", "", NULL, 0, Y },
	/* ... but a write only when marked idempotent */
	{ 0, 429, "REQUEST_LIMIT_EXCEEDED", "slow down", "POST", 0, U },
	{ 0, 429, "REQUEST_LIMIT_EXCEEDED", "slow down", "POST", 1, Y },
	{ 0, 503, "", "", "PUT", 0, U },
	{ 0, 503, "", "", "PATCH", 0, U },
	{ 0, 503, "", "", "DELETE", 0, U },
	{ 0, 503, "", "", "DELETE", 1, Y },
	/* a read also on 500, 502 and 504 (a server or gateway error)... */
	{ 0, 500, "INTERNAL_ERROR", "boom", "GET", 0, Y },
	{ 0, 500, "", "Unexpected error", "HEAD", 0, Y },
	{ 0, 502, "", "Bad Gateway", "GET", 0, Y },
	{ 0, 502, "", "HTML error page", NULL, 0, Y },
	{ 0, 504, "", "Gateway Timeout", "GET", 0, Y },
	/* ... a write never: it may have taken effect (even if idempotent: the
	 * caller reports the outcome as unknown) */
	{ 0, 500, "INTERNAL_ERROR", "boom", "POST", 1, N },
	{ 0, 502, "", "Bad Gateway", "POST", 0, N },
	{ 0, 504, "", "Gateway Timeout", "POST", 1, N },
	/* nor other statuses */
	{ 0, 501, "", "", "GET", 0, N },
	{ 0, 400, "INVALID_PARAMETER_VALUE", "Cluster 1 does not exist", "GET", 0, N },
	{ 0, 404, "RESOURCE_DOES_NOT_EXIST", "no", "GET", 0, N },
	{ 0, 409, "RESOURCE_ALREADY_EXISTS", "no", "GET", 0, N },
	{ 0, 302, "", "", "GET", 0, N },
	/* 401/403 need a new token, even with a transient-looking body */
	{ 0, 401, "UNAUTHENTICATED", "Invalid token", "GET", 0, N },
	{ 0, 403, "PERMISSION_DENIED", "Invalid access token.", "GET", 0, N },
	{ 0, 403, "REQUEST_LIMIT_EXCEEDED", "ClusterNotReadyException", "GET", 0, N },
	/* Databricks' transient messages, on any other error status */
	{ 0, 400, "REQUEST_LIMIT_EXCEEDED", "too many", "GET", 0, Y },
	{ 0, 400, "INVALID_STATE", "com.databricks.backend.manager.util."
	  "UnknownWorkerEnvironmentException: x", "GET", 0, Y },
	{ 0, 400, "", "Workspace 123 does not have any associated worker environments", "GET",
	  0, Y },
	{ 0, 404, "", "There is no worker environment with id 77", "GET", 0, Y },
	{ 0, 400, "", "Unknown worker environment", "GET", 0, Y },
	{ 0, 400, "", "java.lang.ClusterNotReadyException: starting", "GET", 0, Y },
	{ 0, 500, "", "ClusterNotReadyException", "GET", 0, Y },
	{ 0, 400, "", "worker env 42 not found", "GET", 0, Y },
	{ 0, 400, "", "worker env not foun", "GET", 0, N },
	{ 0, 400, "", "not found: worker env 42", "GET", 0, N },
	{ 0, 504, "", "Timed out after 60s", "POST", 0, U },
	{ 0, 504, "", "context deadline exceeded", "POST", 1, Y },
	{ 0, 400, "", "clusternotreadyexception", "GET", 0, N },
	{ 0, 400, "", "ClusterNotReadyException", "POST", 0, U },
	{ 0, 400, "", "ClusterNotReadyException", "POST", 1, Y },
	/* no answer */
	{ DBR_E_NETWORK, 0, "", "", "GET", 0, Y },
	{ DBR_E_TIMEOUT, 0, "", "", "GET", 0, Y },
	{ DBR_E_NETWORK, 0, "", "", "POST", 0, U },
	{ DBR_E_TIMEOUT, 0, "", "", "POST", 1, Y },
	/* unreachable: nothing was sent, any method may be repeated */
	{ DBR_E_UNREACHABLE, 0, "", "", "GET", 0, Y },
	{ DBR_E_UNREACHABLE, 0, "", "", "POST", 0, Y },
	/* a host name that does not exist will not exist in a second either */
	{ DBR_E_NO_SUCH_HOST, 0, "", "", "GET", 0, N },
	/* failures retrying cannot fix */
	{ DBR_E_TLS, 0, "", "", "GET", 0, N },
	{ DBR_E_TOO_LARGE, 0, "", "", "GET", 0, N },
	{ DBR_E_INVAL, 0, "", "", "GET", 0, N },
	{ DBR_E_NOMEM, 0, "", "", "GET", 0, N },
	{ DBR_E_INTERNAL, 0, "", "", "GET", 1, N },
	{ DBR_E_INTERRUPTED, 0, "", "", "GET", 1, N },
	{ DBR_E_AUTH, 0, "", "", "GET", 1, N },
};

static void test_classify_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct dbr_api_error e = api(r->status, r->code, r->message);
		enum dbr_retry_class got = dbr_retry_classify(r->rc, r->status, r->rc ? NULL : &e,
							      r->method, r->idempotent);

		if (got != r->want)
			print_message("row %zu: rc %d status %ld '%s' '%s' %s idem %d: got %d\n", i,
				      r->rc, r->status, r->code, r->message,
				      r->method ? r->method : "(null)", r->idempotent, (int)got);
		assert_int_equal(got, r->want);
	}
}

static void test_classify_null_error(void **state)
{
	(void)state;
	/* no parsed body: decided by status alone */
	assert_int_equal(dbr_retry_classify(0, 429, NULL, "GET", 0), DBR_RETRY_YES);
	assert_int_equal(dbr_retry_classify(0, 400, NULL, "GET", 0), DBR_RETRY_NO);
	assert_null(dbr_retry_transient_match(NULL));
}

static void test_transient_match(void **state)
{
	struct dbr_api_error e = api(400, "REQUEST_LIMIT_EXCEEDED", "x");

	(void)state;
	assert_string_equal(dbr_retry_transient_match(&e), "REQUEST_LIMIT_EXCEEDED");
	e = api(400, "", "oops: ClusterNotReadyException");
	assert_string_equal(dbr_retry_transient_match(&e), "ClusterNotReadyException");
	e = api(400, "", "worker env abc not found");
	assert_string_equal(dbr_retry_transient_match(&e), "worker env ");
	/* a code is matched whole, not as part of a longer one */
	e = api(400, "REQUEST_LIMIT_EXCEEDED_FOREVER", "x");
	assert_null(dbr_retry_transient_match(&e));
	e = api(400, "", "");
	assert_null(dbr_retry_transient_match(&e));
}

static void test_method_safe(void **state)
{
	(void)state;
	assert_true(dbr_retry_method_safe(NULL));
	assert_true(dbr_retry_method_safe("GET"));
	assert_true(dbr_retry_method_safe("HEAD"));
	assert_false(dbr_retry_method_safe("POST"));
	assert_false(dbr_retry_method_safe("PUT"));
	assert_false(dbr_retry_method_safe("PATCH"));
	assert_false(dbr_retry_method_safe("DELETE"));
	assert_false(dbr_retry_method_safe("get"));
}

static void test_delay_retry_after(void **state)
{
	(void)state;
	/* honoured exactly, no jitter */
	assert_int_equal(dbr_retry_delay_ms(1, 429, 1, 0xffffffffu, 300000), 1000);
	assert_int_equal(dbr_retry_delay_ms(7, 429, 3, 12345, 300000), 3000);
	assert_int_equal(dbr_retry_delay_ms(1, 503, 20, 1, 300000), 20000);
	/* any status carrying it (e.g. a transient 400) */
	assert_int_equal(dbr_retry_delay_ms(1, 400, 2, 99, 300000), 2000);
	/* 429/503 without it: 1 s */
	assert_int_equal(dbr_retry_delay_ms(1, 429, -1, 77, 300000), 1000);
	assert_int_equal(dbr_retry_delay_ms(9, 503, -1, 77, 300000), 1000);
	/* "Retry-After: 0" still waits a little */
	assert_int_equal(dbr_retry_delay_ms(1, 429, 0, 0, 300000), DBR_RETRY_MIN_WAIT_MS);
	/* exactly what is left: still allowed */
	assert_int_equal(dbr_retry_delay_ms(1, 429, 5, 0, 5000), 5000);
	/* longer than what is left: give up, do not come back early */
	assert_int_equal(dbr_retry_delay_ms(1, 429, 5, 0, 4999), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 429, -1, 0, 500), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 503, 1000000000L, 0, 300000), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 503, 0x7fffffffL, 0, 0x7fffffffL), -1);
	/* nothing left */
	assert_int_equal(dbr_retry_delay_ms(1, 429, 1, 0, 0), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 429, 0, 0, DBR_RETRY_MIN_WAIT_MS - 1), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 429, 1, 0, -5), -1);
}

static void test_delay_backoff(void **state)
{
	(void)state;
	/* min(attempt, 10) s without jitter (rnd 0) */
	assert_int_equal(dbr_retry_delay_ms(0, 0, -1, 0, 300000), 1000);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, 300000), 1000);
	assert_int_equal(dbr_retry_delay_ms(2, 0, -1, 0, 300000), 2000);
	assert_int_equal(dbr_retry_delay_ms(3, 400, -1, 0, 300000), 3000);
	assert_int_equal(dbr_retry_delay_ms(10, 0, -1, 0, 300000), 10000);
	assert_int_equal(dbr_retry_delay_ms(11, 0, -1, 0, 300000), 10000);
	assert_int_equal(dbr_retry_delay_ms(4000000000u, 0, -1, 0, 300000), 10000);
	/* the largest jitter is +25% */
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 250, 300000), 1250);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 251, 300000), 1000);
	assert_int_equal(dbr_retry_delay_ms(10, 0, -1, 2500, 300000), 12500);
	/* capped to the window: the last attempt at its end */
	assert_int_equal(dbr_retry_delay_ms(10, 0, -1, 0, 4000), 4000);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 250, 1100), 1100);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, DBR_RETRY_MIN_WAIT_MS),
			 DBR_RETRY_MIN_WAIT_MS);
	/* too little left for another wait */
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, DBR_RETRY_MIN_WAIT_MS - 1), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, 1), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, 0), -1);
	assert_int_equal(dbr_retry_delay_ms(1, 0, -1, 0, -1), -1);
}

static void test_delay_jitter_range(void **state)
{
	struct dbr_rng rng;
	long lo = 1L << 30, hi = 0;

	(void)state;
	dbr_rng_seed(&rng);
	for (unsigned attempt = 1; attempt <= 12; attempt++) {
		long base = (attempt < 10 ? (long)attempt : 10) * 1000;

		for (int i = 0; i < 2000; i++) {
			long ms = dbr_retry_delay_ms(attempt, 0, -1, dbr_rng_next(&rng), 300000);

			assert_in_range(ms, base, base + base / 4);
			if (attempt == 1) {
				lo = ms < lo ? ms : lo;
				hi = ms > hi ? ms : hi;
			}
		}
	}
	/* the jitter really spreads the waits */
	assert_true(hi - lo > 150);
}

static void test_rng(void **state)
{
	struct dbr_rng a = { 42 }, b = { 42 }, c;
	uint32_t first;
	int same = 1;

	(void)state;
	/* deterministic for a seed, and not stuck */
	first = dbr_rng_next(&a);
	assert_int_equal(first, dbr_rng_next(&b));
	for (int i = 0; i < 100; i++)
		same &= dbr_rng_next(&a) == first;
	assert_false(same);
	/* two seeds from the system differ */
	dbr_rng_seed(&a);
	dbr_rng_seed(&c);
	assert_true(a.s != c.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_null_error),
		cmocka_unit_test(test_transient_match),
		cmocka_unit_test(test_method_safe),
		cmocka_unit_test(test_delay_retry_after),
		cmocka_unit_test(test_delay_backoff),
		cmocka_unit_test(test_delay_jitter_range),
		cmocka_unit_test(test_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
