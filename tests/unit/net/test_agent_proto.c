/* The agent protocol (src/net/agent_proto.c): encode/decode round trips,
 * every malformed message the decoder and the field accessors must refuse,
 * the encoder's caps and sticky errors, and agent_send/agent_recv over a
 * socketpair (oversized prefix, closed peer, timeout, interrupt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_proto.h"
#include "dbroker/runtime.h"

/* ---- building raw payloads by hand ------------------------------------------------ */

struct raw {
	unsigned char b[4096];
	size_t n;
	void *copy; /* what the last decode() read: the fields point into it */
};

#define RAW_INIT { { 0 }, 0, NULL }

static void raw_done(struct raw *r)
{
	free(r->copy);
	r->copy = NULL;
}

static void raw_start(struct raw *r, unsigned version, unsigned type)
{
	raw_done(r);
	r->n = 0;
	r->b[r->n++] = (unsigned char)version;
	r->b[r->n++] = (unsigned char)type;
}

static void raw_u32(struct raw *r, uint32_t v)
{
	r->b[r->n++] = (unsigned char)(v >> 24);
	r->b[r->n++] = (unsigned char)(v >> 16);
	r->b[r->n++] = (unsigned char)(v >> 8);
	r->b[r->n++] = (unsigned char)v;
}

static void raw_bytes(struct raw *r, const void *p, size_t n)
{
	assert_true(r->n + n <= sizeof(r->b));
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

/* A field whose length says n and whose bytes are p[0..have). */
static void raw_field_len(struct raw *r, unsigned tag, uint32_t n, const void *p, size_t have)
{
	r->b[r->n++] = (unsigned char)tag;
	raw_u32(r, n);
	raw_bytes(r, p, have);
}

static void raw_field(struct raw *r, unsigned tag, const void *p, size_t n)
{
	raw_field_len(r, tag, (uint32_t)n, p, n);
}

/* Decode r from an exactly-sized copy (a read past the end is an ASan or
 * valgrind error); the copy lives until the next raw_start/raw_done. */
static int decode(struct raw *r, struct agent_msg *m)
{
	free(r->copy);
	r->copy = malloc(r->n ? r->n : 1);
	assert_non_null(r->copy);
	memcpy(r->copy, r->b, r->n);
	return agent_msg_decode(r->copy, r->n, m);
}

/* The payload of an encoded message (after the length prefix), checked
 * against the prefix. */
static const char *payload_of(struct agent_enc *e, size_t *len)
{
	const unsigned char *p = (const unsigned char *)e->buf.data;
	uint32_t n;

	assert_int_equal(agent_enc_end(e), 0);
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	assert_int_equal(n, e->buf.len - 4);
	*len = n;
	return e->buf.data + 4;
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	static const char bin[] = { 'a', '\0', '\r', '\n', (char)0xff, 'z' };
	struct dbr_http_header h[2] = { { "Content-Type", "application/json" },
					{ "X-Empty", "" } }, got[4];
	struct agent_enc e;
	struct agent_msg m;
	const char *p;
	size_t len, n = 9;
	int64_t v = 7;

	(void)state;
	agent_enc_begin(&e, AGENT_CALL);
	assert_int_equal(agent_enc_text(&e, AGENT_T_PROFILE, "prod"), 0);
	assert_int_equal(agent_enc_text(&e, AGENT_T_METHOD, ""), 0);
	assert_int_equal(agent_enc_text(&e, AGENT_T_PATH, NULL), 0); /* absent */
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_BODY, bin, sizeof(bin)), 0);
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_CTYPE, NULL, 0), 0);
	assert_int_equal(agent_enc_int(&e, AGENT_T_FLAGS, 0), 0);
	assert_int_equal(agent_enc_int(&e, AGENT_T_TIMEOUT, INT64_MAX), 0);
	assert_int_equal(agent_enc_int(&e, AGENT_T_WINDOW, -1), 0);
	assert_int_equal(agent_enc_int(&e, AGENT_T_DEADLINE, INT64_MIN), 0);
	assert_int_equal(agent_enc_headers(&e, AGENT_T_HEADERS, h, 2), 0);
	assert_int_equal(agent_enc_headers(&e, AGENT_T_RESP_HEADERS, h, 0), 0); /* none */
	p = payload_of(&e, &len);
	assert_int_equal(agent_msg_decode(p, len, &m), 0);
	assert_int_equal(m.type, AGENT_CALL);
	assert_string_equal(agent_msg_text(&m, AGENT_T_PROFILE), "prod");
	assert_string_equal(agent_msg_text(&m, AGENT_T_METHOD), "");
	assert_null(agent_msg_text(&m, AGENT_T_PATH));
	assert_null(m.f[AGENT_T_PATH].p);
	assert_int_equal(m.f[AGENT_T_BODY].n, sizeof(bin));
	assert_memory_equal(m.f[AGENT_T_BODY].p, bin, sizeof(bin));
	/* present and empty is not absent */
	assert_non_null(m.f[AGENT_T_CTYPE].p);
	assert_int_equal(m.f[AGENT_T_CTYPE].n, 0);
	assert_null(agent_msg_text(&m, AGENT_T_CTYPE));
	assert_int_equal(agent_msg_int(&m, AGENT_T_FLAGS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(agent_msg_int(&m, AGENT_T_TIMEOUT, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(agent_msg_int(&m, AGENT_T_WINDOW, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(agent_msg_int(&m, AGENT_T_DEADLINE, &v), 0);
	assert_true(v == INT64_MIN);
	/* absent: 0, out untouched */
	v = 42;
	assert_int_equal(agent_msg_int(&m, AGENT_T_UNREACHABLE, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(agent_msg_headers(&m, AGENT_T_HEADERS, got, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].name, "Content-Type");
	assert_string_equal(got[0].value, "application/json");
	assert_string_equal(got[1].name, "X-Empty");
	assert_string_equal(got[1].value, "");
	agent_headers_free(got, n);
	assert_null(got[0].name);
	assert_int_equal(agent_msg_headers(&m, AGENT_T_RESP_HEADERS, got, 4, &n), 0);
	assert_int_equal(n, 0);
	agent_enc_release(&e);
	assert_null(e.buf.data);
}

static void test_every_type_and_unknown_tags(void **state)
{
	static const unsigned types[] = { AGENT_OPEN, AGENT_CALL, AGENT_STATUS, AGENT_LOCK,
					  AGENT_FORGET, AGENT_STOP, AGENT_R_OK, AGENT_R_ERROR,
					  AGENT_R_CALL, 0x7f, 0xff };
	struct agent_msg m;
	struct raw r = RAW_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		raw_start(&r, AGENT_PROTO_VERSION, types[i]);
		assert_int_equal(decode(&r, &m), 0);
		assert_int_equal(m.type, types[i]);
	}
	/* a newer peer's fields (tags past AGENT_T_MAX) are skipped, even twice */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field(&r, 200, "new", 3);
	raw_field(&r, AGENT_T_PROFILE, "p\0", 2);
	raw_field(&r, 200, "again", 5);
	raw_field(&r, AGENT_T_MAX, "", 0);
	assert_int_equal(decode(&r, &m), 0);
	assert_string_equal(agent_msg_text(&m, AGENT_T_PROFILE), "p");
	assert_null(agent_msg_text(&m, 200));
	assert_null(agent_msg_text(&m, AGENT_T_MAX));
	raw_done(&r);
}

/* ---- malformed messages ---------------------------------------------------------------- */

static void test_malformed_frames(void **state)
{
	static const unsigned char one[] = { AGENT_PROTO_VERSION };
	struct agent_msg m;
	struct raw r = RAW_INIT;

	(void)state;
	assert_int_equal(agent_msg_decode(NULL, 0, &m), DBR_E_INVAL);
	assert_int_equal(agent_msg_decode(one, 0, &m), DBR_E_INVAL);
	assert_int_equal(agent_msg_decode(one, 1, &m), DBR_E_INVAL);
	/* wrong versions */
	for (unsigned v = 0; v < 256; v += 1) {
		if (v == AGENT_PROTO_VERSION)
			continue;
		raw_start(&r, v, AGENT_STATUS);
		assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	}
	/* no type */
	raw_start(&r, AGENT_PROTO_VERSION, 0);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	/* a field header cut anywhere */
	for (size_t cut = 1; cut < 5; cut++) {
		raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
		raw_field(&r, AGENT_T_PROFILE, "x\0", 2);
		r.n = 2 + cut;
		assert_int_equal(decode(&r, &m), DBR_E_INVAL);
		assert_null(m.f[AGENT_T_PROFILE].p); /* nothing half-decoded is kept */
	}
	/* a field longer than what is left, by one and by a lot */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field_len(&r, AGENT_T_PROFILE, 3, "x\0", 2);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field_len(&r, AGENT_T_PROFILE, UINT32_MAX, "x\0", 2);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	/* a good field, then garbage after it */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field(&r, AGENT_T_PROFILE, "x\0", 2);
	r.b[r.n++] = AGENT_T_PATH;
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	/* a repeated tag (also when the first one is empty) */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field(&r, AGENT_T_PROFILE, "a\0", 2);
	raw_field(&r, AGENT_T_PROFILE, "b\0", 2);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field(&r, AGENT_T_BODY, "", 0);
	raw_field(&r, AGENT_T_BODY, "b", 1);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	/* tag 0 is no tag */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
	raw_field(&r, 0, "", 0);
	assert_int_equal(decode(&r, &m), DBR_E_INVAL);
	raw_done(&r);
}

static void test_text_fields(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
		const char *want; /* NULL: refused */
	} rows[] = {
		{ "abc\0", 4, "abc" },
		{ "\0", 1, "" },
		{ "abc", 3, NULL },          /* no NUL */
		{ "", 0, NULL },             /* not even the NUL */
		{ "a\0b\0", 4, NULL },       /* an inner NUL */
		{ "\0\0", 2, NULL },
		{ "ab\0c", 4, NULL },        /* the NUL not at the end */
	};
	struct agent_msg m;
	struct raw r = RAW_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		raw_start(&r, AGENT_PROTO_VERSION, AGENT_OPEN);
		raw_field(&r, AGENT_T_PROFILE, rows[i].bytes, rows[i].n);
		assert_int_equal(decode(&r, &m), 0);
		if (rows[i].want)
			assert_string_equal(agent_msg_text(&m, AGENT_T_PROFILE), rows[i].want);
		else
			assert_null(agent_msg_text(&m, AGENT_T_PROFILE));
	}
	assert_null(agent_msg_text(&m, AGENT_T_MAX));
	assert_null(agent_msg_text(&m, 1000));
	raw_done(&r);
}

static void test_int_fields(void **state)
{
	static const unsigned char eight[8] = { 0x80, 0, 0, 0, 0, 0, 0, 1 };
	struct agent_msg m;
	struct raw r = RAW_INIT;
	int64_t v;

	(void)state;
	for (size_t n = 0; n <= 9; n++) {
		unsigned char b[9] = { 0 };

		raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
		raw_field(&r, AGENT_T_FLAGS, n == 8 ? eight : b, n);
		assert_int_equal(decode(&r, &m), 0);
		v = 99;
		if (n == 8) {
			assert_int_equal(agent_msg_int(&m, AGENT_T_FLAGS, &v), 0);
			assert_true(v == INT64_MIN + 1);
		} else {
			assert_int_equal(agent_msg_int(&m, AGENT_T_FLAGS, &v), DBR_E_INVAL);
			assert_int_equal(v, 99);
		}
	}
	assert_int_equal(agent_msg_int(&m, AGENT_T_MAX, &v), DBR_E_INVAL);
	raw_done(&r);
}

struct hdr {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* A headers field: each entry a length-prefixed name and value. */
static void raw_headers(struct raw *r, const struct hdr *h, size_t count)
{
	size_t total = 0;

	for (size_t i = 0; i < count; i++)
		total += 8 + h[i].nlen + h[i].vlen;
	r->b[r->n++] = AGENT_T_HEADERS;
	raw_u32(r, (uint32_t)total);
	for (size_t i = 0; i < count; i++) {
		raw_u32(r, (uint32_t)h[i].nlen);
		raw_bytes(r, h[i].name, h[i].nlen);
		raw_u32(r, (uint32_t)h[i].vlen);
		raw_bytes(r, h[i].value, h[i].vlen);
	}
}

static int decode_headers(struct raw *r, size_t max, size_t *n)
{
	struct dbr_http_header h[AGENT_HEADERS_MAX + 1];
	struct agent_msg m;
	int rc;

	assert_true(max <= AGENT_HEADERS_MAX + 1);
	assert_int_equal(decode(r, &m), 0);
	*n = 77;
	rc = agent_msg_headers(&m, AGENT_T_HEADERS, h, max, n);
	if (rc == 0)
		agent_headers_free(h, *n);
	else
		assert_int_equal(*n, 0); /* what was taken before the error is freed */
	return rc;
}

static void test_header_fields(void **state)
{
	static const struct hdr good = { "Good", 4, "one", 3 }, tiny = { "X", 1, "", 0 };
	static const struct hdr bad[] = {
		{ "X-A\r", 4, "v", 1 },
		{ "X-A", 3, "v\r\nX-Injected: 1", 17 },
		{ "X-A", 3, "v\n", 2 },
		{ "X\nA", 3, "v", 1 },
		{ "X\0A", 3, "v", 1 },
		{ "X-A", 3, "a\0b", 3 },
		{ "", 0, "v", 1 },            /* no name */
	};
	struct hdr many[AGENT_HEADERS_MAX + 1];
	struct agent_msg m;
	struct raw r = RAW_INIT;
	size_t n;

	(void)state;
	for (size_t i = 0; i <= AGENT_HEADERS_MAX; i++)
		many[i] = tiny;
	/* good ones, up to the caller's max and AGENT_HEADERS_MAX */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
	raw_headers(&r, many, 3);
	assert_int_equal(decode_headers(&r, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(decode_headers(&r, 2, &n), DBR_E_INVAL);
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
	raw_headers(&r, many, AGENT_HEADERS_MAX);
	assert_int_equal(decode_headers(&r, AGENT_HEADERS_MAX, &n), 0);
	assert_int_equal(n, AGENT_HEADERS_MAX);
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
	raw_headers(&r, many, AGENT_HEADERS_MAX + 1);
	assert_int_equal(decode_headers(&r, AGENT_HEADERS_MAX, &n), DBR_E_INVAL);
	/* CR, LF, NUL, no name: alone, and after good ones (freed again) */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hdr three[3] = { good, good, bad[i] };

		raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
		raw_headers(&r, &bad[i], 1);
		assert_int_equal(decode_headers(&r, 8, &n), DBR_E_INVAL);
		raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
		raw_headers(&r, three, 3);
		assert_int_equal(decode_headers(&r, 8, &n), DBR_E_INVAL);
	}
	/* a name with its value missing (3), a name length past the field (4),
	 * a length cut */
	for (uint32_t nlen = 3; nlen <= 4; nlen++) {
		raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
		r.b[r.n++] = AGENT_T_HEADERS;
		raw_u32(&r, 4 + 3);
		raw_u32(&r, nlen);
		raw_bytes(&r, "X-A", 3);
		assert_int_equal(decode_headers(&r, 8, &n), DBR_E_INVAL);
	}
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
	raw_field(&r, AGENT_T_HEADERS, "\0\0", 2);
	assert_int_equal(decode_headers(&r, 8, &n), DBR_E_INVAL);
	/* absent: none; a tag out of range: refused */
	raw_start(&r, AGENT_PROTO_VERSION, AGENT_CALL);
	assert_int_equal(decode_headers(&r, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(decode(&r, &m), 0);
	{
		struct dbr_http_header h[1];

		assert_int_equal(agent_msg_headers(&m, AGENT_T_MAX, h, 1, &n), DBR_E_INVAL);
	}
	raw_done(&r);
}

static void test_error_answers(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_enc e;
	struct agent_msg m;
	const char *p;
	size_t len;
	static const struct {
		int present;
		int64_t rc;
		int want;
	} rows[] = {
		{ 1, DBR_E_NO_CREDENTIAL, DBR_E_NO_CREDENTIAL },
		{ 1, -1000, -1000 },
		{ 0, 0, DBR_E_AGENT },
		{ 1, 0, DBR_E_AGENT },
		{ 1, 5, DBR_E_AGENT },
		{ 1, -1001, DBR_E_AGENT },
		{ 1, INT64_MIN, DBR_E_AGENT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		agent_enc_begin(&e, AGENT_R_ERROR);
		if (rows[i].present)
			agent_enc_int(&e, AGENT_T_RC, rows[i].rc);
		if (i % 2)
			agent_enc_text(&e, AGENT_T_MESSAGE, "no such profile");
		p = payload_of(&e, &len);
		assert_int_equal(agent_msg_decode(p, len, &m), 0);
		assert_int_equal(agent_error_of(&m, &err), rows[i].want);
		assert_int_equal(err.code, rows[i].want);
		assert_string_equal(err.msg, i % 2 ? "no such profile"
					      : "the agent refused the request");
		agent_enc_release(&e);
	}
	/* an RC of the wrong size */
	agent_enc_begin(&e, AGENT_R_ERROR);
	agent_enc_bytes(&e, AGENT_T_RC, "\xff\xff", 2);
	p = payload_of(&e, &len);
	assert_int_equal(agent_msg_decode(p, len, &m), 0);
	assert_int_equal(agent_error_of(&m, &err), DBR_E_AGENT);
	agent_enc_release(&e);
}

/* ---- the encoder's limits ------------------------------------------------------------- */

static void test_encoder_errors_stick(void **state)
{
	struct dbr_http_header h[AGENT_HEADERS_MAX + 1];
	struct agent_enc e;
	size_t len;

	(void)state;
	for (size_t i = 0; i <= AGENT_HEADERS_MAX; i++) {
		h[i].name = "X";
		h[i].value = "v";
	}
	/* bad tags */
	agent_enc_begin(&e, AGENT_OPEN);
	assert_int_equal(agent_enc_text(&e, 0, "x"), DBR_E_INVAL);
	assert_int_equal(agent_enc_text(&e, AGENT_T_PROFILE, "x"), DBR_E_INVAL); /* sticks */
	assert_int_equal(agent_enc_end(&e), DBR_E_INVAL);
	agent_enc_release(&e);
	agent_enc_begin(&e, AGENT_OPEN);
	assert_int_equal(agent_enc_int(&e, AGENT_T_MAX, 1), DBR_E_INVAL);
	agent_enc_release(&e);
	/* too many headers */
	agent_enc_begin(&e, AGENT_CALL);
	assert_int_equal(agent_enc_headers(&e, AGENT_T_HEADERS, h, AGENT_HEADERS_MAX + 1),
			 DBR_E_TOO_LARGE);
	len = e.buf.len;
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_BODY, "b", 1), DBR_E_TOO_LARGE);
	assert_int_equal(e.buf.len, len); /* nothing added after the error */
	assert_int_equal(agent_enc_end(&e), DBR_E_TOO_LARGE);
	agent_enc_release(&e);
	agent_enc_begin(&e, AGENT_CALL);
	assert_int_equal(agent_enc_headers(&e, AGENT_T_HEADERS, h, AGENT_HEADERS_MAX), 0);
	assert_int_equal(agent_enc_end(&e), 0);
	agent_enc_release(&e);
	/* a field over the cap is refused before anything is copied */
	agent_enc_begin(&e, AGENT_CALL);
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_BODY, "", (size_t)AGENT_MSG_MAX + 1),
			 DBR_E_TOO_LARGE);
	agent_enc_release(&e);
}

static void test_message_cap(void **state)
{
	size_t big = AGENT_MSG_MAX - 2 - 5; /* exactly AGENT_MSG_MAX with its header */
	char *body = calloc(1, big + 1);
	struct agent_enc e;
	struct agent_msg m;
	const char *p;
	size_t len;

	(void)state;
	assert_non_null(body);
	agent_enc_begin(&e, AGENT_R_CALL);
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_BODY, body, big), 0);
	p = payload_of(&e, &len);
	assert_int_equal(len, AGENT_MSG_MAX);
	assert_int_equal(agent_msg_decode(p, len, &m), 0);
	assert_int_equal(m.f[AGENT_T_BODY].n, big);
	/* one byte more does not fit: the add fails and the error sticks */
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_CTYPE, NULL, 0), DBR_E_TOO_LARGE);
	assert_int_equal(agent_enc_end(&e), DBR_E_TOO_LARGE);
	agent_enc_release(&e);
	agent_enc_begin(&e, AGENT_R_CALL);
	assert_int_equal(agent_enc_bytes(&e, AGENT_T_BODY, body, big + 1), DBR_E_TOO_LARGE);
	agent_enc_release(&e);
	/* the decoder refuses a payload over the cap whatever it holds */
	{
		char *raw = malloc((size_t)AGENT_MSG_MAX + 1);

		assert_non_null(raw);
		raw[0] = AGENT_PROTO_VERSION;
		raw[1] = AGENT_R_CALL;
		raw[2] = AGENT_T_BODY;
		raw[3] = (char)(((AGENT_MSG_MAX + 1 - 7) >> 24) & 0xff);
		raw[4] = (char)(((AGENT_MSG_MAX + 1 - 7) >> 16) & 0xff);
		raw[5] = (char)(((AGENT_MSG_MAX + 1 - 7) >> 8) & 0xff);
		raw[6] = (char)((AGENT_MSG_MAX + 1 - 7) & 0xff);
		memset(raw + 7, 'x', AGENT_MSG_MAX + 1 - 7);
		assert_int_equal(agent_msg_decode(raw, (size_t)AGENT_MSG_MAX + 1, &m), DBR_E_INVAL);
		free(raw);
	}
	free(body);
}

/* ---- framing over a socketpair ---------------------------------------------------------- */

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void test_send_recv(void **state)
{
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_enc e;
	struct agent_msg m;
	int sv[2];

	(void)state;
	pair(sv);
	for (int i = 0; i < 3; i++) { /* the same buffer, message after message */
		agent_enc_begin(&e, AGENT_OPEN);
		agent_enc_text(&e, AGENT_T_PROFILE, i == 1 ? "second" : "p");
		assert_int_equal(agent_send(sv[0], &e, &err), 0);
		agent_enc_release(&e);
		assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), 0);
		assert_int_equal(m.type, AGENT_OPEN);
		assert_string_equal(agent_msg_text(&m, AGENT_T_PROFILE), i == 1 ? "second" : "p");
	}
	/* a frame written in pieces (prefix, then the rest) */
	{
		static const unsigned char frame[] = { 0, 0, 0, 2, AGENT_PROTO_VERSION, AGENT_LOCK };

		put(sv[0], frame, 3);
		put(sv[0], frame + 3, 3);
		assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), 0);
		assert_int_equal(m.type, AGENT_LOCK);
	}
	/* a message larger than the socket's buffer, written by another process */
	{
		size_t big = 3u << 20;
		char *body = malloc(big);
		pid_t pid;
		int st;

		assert_non_null(body);
		for (size_t i = 0; i < big; i++)
			body[i] = (char)(i * 7 + i / 251);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int rc;

			agent_enc_begin(&e, AGENT_R_CALL);
			agent_enc_bytes(&e, AGENT_T_BODY, body, big);
			rc = agent_send(sv[0], &e, &err) == 0 ? 0 : 1;
			/* released: under valgrind the child's exit is checked for
			 * leaks too, and whether a dead local still points at body
			 * depends on the compiler */
			agent_enc_release(&e);
			free(body);
			_exit(rc);
		}
		assert_int_equal(agent_recv(sv[1], &in, &m, 10000, 0, &err), 0);
		assert_int_equal(m.f[AGENT_T_BODY].n, big);
		assert_memory_equal(m.f[AGENT_T_BODY].p, body, big);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		free(body);
	}
	/* an encoder in error is not sent */
	agent_enc_begin(&e, AGENT_OPEN);
	agent_enc_text(&e, 0, "x");
	assert_int_equal(agent_send(sv[0], &e, &err), DBR_E_INVAL);
	agent_enc_release(&e);
	assert_int_equal(agent_recv(sv[1], &in, &m, 50, 0, &err), DBR_E_TIMEOUT);
	/* the peer gone: an error, not SIGPIPE; agent_ask says the same */
	close(sv[1]);
	agent_enc_begin(&e, AGENT_STATUS);
	assert_int_equal(agent_send(sv[0], &e, &err), DBR_E_IO);
	assert_int_equal(agent_ask(sv[0], &e, &in, &m, 1000, &err), DBR_E_IO);
	assert_non_null(strstr(err.msg, "cannot write to the agent's socket"));
	agent_enc_release(&e);
	close(sv[0]);
	/* agent_ask: the request, then its answer; from a peer that answered
	 * and closed before it read the request (the agent turning a
	 * connection away), that answer rather than the broken pipe */
	for (int closed = 0; closed < 2; closed++) {
		pair(sv);
		agent_enc_begin(&e, AGENT_R_ERROR);
		agent_enc_int(&e, AGENT_T_RC, DBR_E_AGENT);
		agent_enc_text(&e, AGENT_T_MESSAGE, "too many clients");
		assert_int_equal(agent_send(sv[1], &e, &err), 0);
		agent_enc_release(&e);
		if (closed)
			close(sv[1]);
		agent_enc_begin(&e, AGENT_STATUS);
		assert_int_equal(agent_ask(sv[0], &e, &in, &m, 1000, &err), 0);
		agent_enc_release(&e);
		assert_int_equal(m.type, AGENT_R_ERROR);
		assert_string_equal(agent_msg_text(&m, AGENT_T_MESSAGE), "too many clients");
		if (!closed) { /* the request went out */
			assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), 0);
			assert_int_equal(m.type, AGENT_STATUS);
			close(sv[1]);
		}
		close(sv[0]);
	}
	dbr_buf_release(&in);
}

static void test_recv_refuses(void **state)
{
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 'r', 'e', 's', 't' };
	static const unsigned char zero[] = { 0, 0, 0, 0 };
	static const unsigned char badver[] = { 0, 0, 0, 2, 9, AGENT_STATUS };
	static const unsigned char cut[] = { 0, 0, 0, 100, AGENT_PROTO_VERSION, AGENT_OPEN };
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_msg m;
	unsigned char over[4];
	char rest[16];
	int sv[2];

	(void)state;
	/* a length prefix over the cap: refused, nothing more is read */
	pair(sv);
	put(sv[0], huge, sizeof(huge));
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_TOO_LARGE);
	assert_non_null(strstr(err.msg, "not dbroker's agent protocol"));
	assert_int_equal(recv(sv[1], rest, sizeof(rest), MSG_DONTWAIT), 4);
	assert_memory_equal(rest, "rest", 4);
	/* just over the cap */
	over[0] = (unsigned char)((AGENT_MSG_MAX + 1u) >> 24);
	over[1] = (unsigned char)((AGENT_MSG_MAX + 1u) >> 16);
	over[2] = (unsigned char)((AGENT_MSG_MAX + 1u) >> 8);
	over[3] = (unsigned char)(AGENT_MSG_MAX + 1u);
	put(sv[0], over, sizeof(over));
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_TOO_LARGE);
	assert_true(in.cap < 4096); /* nothing was allocated for it */
	/* an empty frame, a wrong version */
	put(sv[0], zero, sizeof(zero));
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_INVAL);
	put(sv[0], badver, sizeof(badver));
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_INVAL);
	assert_int_equal(m.type, 0);
	/* nothing arrives: a timeout, also in the middle of a frame */
	assert_int_equal(agent_recv(sv[1], &in, &m, 30, 0, &err), DBR_E_TIMEOUT);
	put(sv[0], cut, 3);
	assert_int_equal(agent_recv(sv[1], &in, &m, 30, 0, &err), DBR_E_TIMEOUT);
	close(sv[0]);
	close(sv[1]);
	/* a prefix claiming the cap, then a few bytes: the buffer grows with
	 * what arrives, not with what the peer announced */
	pair(sv);
	over[0] = (unsigned char)(AGENT_MSG_MAX >> 24);
	over[1] = (unsigned char)(AGENT_MSG_MAX >> 16);
	over[2] = (unsigned char)(AGENT_MSG_MAX >> 8);
	over[3] = (unsigned char)AGENT_MSG_MAX;
	put(sv[0], over, sizeof(over));
	put(sv[0], "\1\3abcdefgh", 10);
	assert_int_equal(agent_recv(sv[1], &in, &m, 30, 0, &err), DBR_E_TIMEOUT);
	assert_true(in.cap < (1u << 20));
	close(sv[0]);
	close(sv[1]);
	/* the peer closes mid-frame, and before a frame */
	pair(sv);
	put(sv[0], cut, sizeof(cut));
	close(sv[0]);
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_IO);
	assert_non_null(strstr(err.msg, "closed"));
	assert_int_equal(agent_recv(sv[1], &in, &m, 1000, 0, &err), DBR_E_IO);
	assert_non_null(strstr(err.msg, "closed"));
	close(sv[1]);
	/* a closed peer with no timeout does not hang */
	pair(sv);
	close(sv[0]);
	assert_int_equal(agent_recv(sv[1], &in, &m, -1, 0, &err), DBR_E_IO);
	close(sv[1]);
	dbr_buf_release(&in);
}

/* Last: dbr_interrupt() cannot be taken back in this process. */
static void test_recv_interrupted(void **state)
{
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_msg m;
	int sv[2];

	(void)state;
	pair(sv);
	dbr_interrupt();
	/* an endless wait ends; one that is not interruptible times out */
	assert_int_equal(agent_recv(sv[1], &in, &m, -1, 1, &err), DBR_E_INTERRUPTED);
	assert_int_equal(agent_recv(sv[1], &in, &m, 20, 0, &err), DBR_E_TIMEOUT);
	close(sv[0]);
	close(sv[1]);
	dbr_buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_type_and_unknown_tags),
		cmocka_unit_test(test_malformed_frames),
		cmocka_unit_test(test_text_fields),
		cmocka_unit_test(test_int_fields),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_encoder_errors_stick),
		cmocka_unit_test(test_message_cap),
		cmocka_unit_test(test_send_recv),
		cmocka_unit_test(test_recv_refuses),
		cmocka_unit_test(test_recv_interrupted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
