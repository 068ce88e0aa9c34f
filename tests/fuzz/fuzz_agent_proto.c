/* Fuzz target: the agent protocol's decoder (src/net/agent_proto.c), what
 * the agent reads from every client and a client from the agent.
 *
 * Input layout:
 *   byte 0      bit 0: framed (the rest goes through a socketpair into
 *               agent_recv, message after message, until it ends);
 *               else the rest is one payload for agent_msg_decode
 *   the rest    payload(s) (copied to an exactly-sized buffer)
 *
 * Properties (abort on violation), from src/net/agent_proto.h:
 *   A1  a decoded message's fields lie inside the payload, after the
 *       version and type bytes, and tag 0 is never set; the type is the
 *       payload's second byte and the version is AGENT_PROTO_VERSION;
 *   A2  agent_msg_text gives NULL or the field itself, NUL-terminated at
 *       its last byte and holding no other NUL;
 *   A3  agent_msg_int succeeds exactly for an absent field (out untouched)
 *       or an 8-byte one (its big-endian value);
 *   A4  agent_msg_headers gives at most max headers with non-empty names
 *       and no CR, LF (or NUL) in a name or value; re-encoded with
 *       agent_enc_headers they are the field's bytes exactly; on failure
 *       none (n == 0);
 *   A5  re-encoding the fields a message carries and decoding that gives
 *       the same fields (a round trip);
 *   A6  agent_error_of gives a DBR_E_* code (-1000..-1) and a message
 *       that ends inside its buffer;
 *   A7  agent_recv never accepts a message over AGENT_MSG_MAX and says
 *       DBR_E_TOO_LARGE, DBR_E_INVAL or DBR_E_IO when it refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_proto.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

static void check_fields(const struct agent_msg *m, const char *payload, size_t len)
{
	if (len < 2 || (unsigned char)payload[0] != AGENT_PROTO_VERSION ||
	    m->type != (unsigned char)payload[1] || m->type == 0)
		fuzz_fail("A1: accepted version %u type %u (%zu bytes)",
			  len ? (unsigned char)payload[0] : 0u, m->type, len);
	if (m->f[0].p)
		fuzz_fail("A1: tag 0 was set");
	for (unsigned t = 1; t < AGENT_T_MAX; t++) {
		const struct agent_field *f = &m->f[t];

		if (f->p && (f->p < payload + 2 || f->n > len ||
			     (size_t)(f->p - payload) > len - f->n))
			fuzz_fail("A1: field %u (%u bytes) outside the payload", t, f->n);
	}
}

static void check_text(const struct agent_msg *m, unsigned t)
{
	const char *s = agent_msg_text(m, t);
	const struct agent_field *f = t < AGENT_T_MAX ? &m->f[t] : NULL;

	if (!s)
		return;
	if (!f || s != f->p || f->n == 0 || strlen(s) != f->n - 1)
		fuzz_fail("A2: text of tag %u is not its field, NUL-terminated once", t);
}

static void check_int(const struct agent_msg *m, unsigned t)
{
	const struct agent_field *f = t < AGENT_T_MAX ? &m->f[t] : NULL;
	int64_t v = 0x5a5a5a5a, want = 0;
	uint64_t u = 0;
	int rc = agent_msg_int(m, t, &v);
	int ok = f && (!f->p || f->n == 8);

	if ((rc == 0) != ok)
		fuzz_fail("A3: tag %u (%u bytes): rc %d", t, f ? f->n : 0, rc);
	if (rc == 0 && f->p) {
		for (int i = 0; i < 8; i++)
			u = u << 8 | (unsigned char)f->p[i];
		memcpy(&want, &u, sizeof(want));
	} else {
		want = 0x5a5a5a5a;
	}
	if (v != want)
		fuzz_fail("A3: tag %u gave %lld", t, (long long)v);
}

static void check_headers(const struct agent_msg *m, unsigned t, size_t max)
{
	struct dbr_http_header h[AGENT_HEADERS_MAX];
	size_t n = 99;
	int rc = agent_msg_headers(m, t, h, max, &n);

	if (rc) {
		if (n != 0 || (rc != DBR_E_INVAL && rc != DBR_E_NOMEM))
			fuzz_fail("A4: failure %d left %zu headers", rc, n);
		return;
	}
	if (n > max)
		fuzz_fail("A4: %zu headers, max %zu", n, max);
	for (size_t i = 0; i < n; i++)
		if (!h[i].name[0] || strpbrk(h[i].name, "\r\n") || strpbrk(h[i].value, "\r\n"))
			fuzz_fail("A4: header %zu is empty or holds CR/LF", i);
	if (n > 0) {
		struct agent_enc e;

		agent_enc_begin(&e, AGENT_CALL);
		if (agent_enc_headers(&e, t, h, n) || e.buf.len != 6 + 5 + m->f[t].n ||
		    memcmp(e.buf.data + 11, m->f[t].p, m->f[t].n) != 0)
			fuzz_fail("A4: %zu headers do not re-encode to the field", n);
		agent_enc_release(&e);
	} else if (m->f[t].p && m->f[t].n) {
		fuzz_fail("A4: no headers from a field of %u bytes", m->f[t].n);
	}
	agent_headers_free(h, n);
}

static void check_round_trip(const struct agent_msg *m)
{
	struct agent_enc e;
	struct agent_msg m2;

	agent_enc_begin(&e, (enum agent_type)m->type);
	for (unsigned t = 1; t < AGENT_T_MAX; t++)
		if (m->f[t].p)
			agent_enc_bytes(&e, t, m->f[t].p, m->f[t].n);
	if (agent_enc_end(&e))
		fuzz_fail("A5: a decoded message does not encode again: %d", e.rc);
	if (agent_msg_decode(e.buf.data + 4, e.buf.len - 4, &m2) || m2.type != m->type)
		fuzz_fail("A5: the re-encoded message does not decode");
	for (unsigned t = 1; t < AGENT_T_MAX; t++)
		if (!m->f[t].p != !m2.f[t].p || m->f[t].n != m2.f[t].n ||
		    (m->f[t].n && memcmp(m->f[t].p, m2.f[t].p, m->f[t].n) != 0))
			fuzz_fail("A5: field %u changed in the round trip", t);
	agent_enc_release(&e);
}

static void check_message(const struct agent_msg *m, const char *payload, size_t len)
{
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	check_fields(m, payload, len);
	for (unsigned t = 0; t <= AGENT_T_MAX; t++) {
		check_text(m, t);
		check_int(m, t);
	}
	check_headers(m, AGENT_T_HEADERS, AGENT_HEADERS_MAX);
	check_headers(m, AGENT_T_RESP_HEADERS, 2);
	rc = agent_error_of(m, &err);
	if (rc >= 0 || rc < -1000 || rc != err.code || !memchr(err.msg, '\0', sizeof(err.msg)))
		fuzz_fail("A6: agent_error_of gave %d", rc);
	check_round_trip(m);
}

/* Frames through a socketpair into agent_recv until the input ends. */
static void framed(const uint8_t *data, size_t size)
{
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_msg m;
	int sv[2], rc;

	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	/* the socket buffer holds it all; closing the writer makes the end EOF */
	if (size && write(sv[0], data, size) != (ssize_t)size)
		fuzz_fail("framed: short write of %zu bytes", size);
	close(sv[0]);
	for (;;) {
		rc = agent_recv(sv[1], &in, &m, -1, 0, &err);
		if (rc)
			break;
		if (in.len > AGENT_MSG_MAX)
			fuzz_fail("A7: accepted a message of %zu bytes", in.len);
		check_message(&m, in.data, in.len);
	}
	if (rc != DBR_E_IO && rc != DBR_E_INVAL && rc != DBR_E_TOO_LARGE)
		fuzz_fail("A7: agent_recv refused with %d", rc);
	close(sv[1]);
	dbr_buf_release(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_byte_or(&in, 0);
	struct agent_msg m;
	char *payload;

	if (mode & 1) {
		framed(in.p, in.n);
		return 0;
	}
	payload = malloc(in.n ? in.n : 1);
	if (!payload)
		return 0;
	memcpy(payload, in.p, in.n);
	if (agent_msg_decode(payload, in.n, &m) == 0)
		check_message(&m, payload, in.n);
	free(payload);
	return 0;
}
