/* The agent protocol's codec and framing (agent_proto.h). */
#include "agent_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dbroker/runtime.h"
#include "banned.h"

#define HEADER_LEN 4
#define FIELD_HEAD 5
/* a message is read (and its buffer grown) this much at a time */
#define RECV_SLICE (64u * 1024)

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* ---- decoding -------------------------------------------------------------------- */

int agent_msg_decode(const void *payload, size_t len, struct agent_msg *m)
{
	const unsigned char *p = payload, *end = p + len;

	memset(m, 0, sizeof(*m));
	if (!payload || len < 2 || len > AGENT_MSG_MAX || p[0] != AGENT_PROTO_VERSION || !p[1])
		return DBR_E_INVAL;
	m->type = p[1];
	p += 2;
	while (p < end) {
		unsigned tag;
		uint32_t n;

		if ((size_t)(end - p) < FIELD_HEAD)
			return DBR_E_INVAL;
		tag = p[0];
		n = get32(p + 1);
		p += FIELD_HEAD;
		if (n > (size_t)(end - p))
			return DBR_E_INVAL;
		if (tag < AGENT_T_MAX) {
			if (m->f[tag].p || tag == 0)
				return DBR_E_INVAL;
			m->f[tag].p = (const char *)p;
			m->f[tag].n = n;
		}
		p += n;
	}
	return 0;
}

const char *agent_msg_text(const struct agent_msg *m, unsigned tag)
{
	const struct agent_field *f;

	if (tag >= AGENT_T_MAX)
		return NULL;
	f = &m->f[tag];
	if (!f->p || f->n == 0 || f->p[f->n - 1] != '\0' || memchr(f->p, '\0', f->n - 1))
		return NULL;
	return f->p;
}

int agent_msg_int(const struct agent_msg *m, unsigned tag, int64_t *out)
{
	const struct agent_field *f;
	uint64_t v = 0;

	if (tag >= AGENT_T_MAX)
		return DBR_E_INVAL;
	f = &m->f[tag];
	if (!f->p)
		return 0;
	if (f->n != 8)
		return DBR_E_INVAL;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (unsigned char)f->p[i];
	memcpy(out, &v, sizeof(v)); /* two's complement, without overflow */
	return 0;
}

void agent_headers_free(struct dbr_http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)h[i].name);
		free((char *)h[i].value);
		h[i].name = h[i].value = NULL;
	}
}

/* One length-prefixed string of a headers field: a copy, or NULL. */
static char *take_string(const unsigned char **p, const unsigned char *end, int *bad)
{
	uint32_t n;
	char *s;

	if ((size_t)(end - *p) < HEADER_LEN || (n = get32(*p)) > (size_t)(end - *p) - HEADER_LEN) {
		*bad = 1;
		return NULL;
	}
	*p += HEADER_LEN;
	if (memchr(*p, '\0', n) || memchr(*p, '\r', n) || memchr(*p, '\n', n)) {
		*bad = 1;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, *p, n);
		s[n] = '\0';
	}
	*p += n;
	return s;
}

int agent_msg_headers(const struct agent_msg *m, unsigned tag, struct dbr_http_header *out,
		      size_t max, size_t *n)
{
	const struct agent_field *f;
	const unsigned char *p, *end;
	int bad = 0;

	*n = 0;
	if (tag >= AGENT_T_MAX)
		return DBR_E_INVAL;
	f = &m->f[tag];
	if (!f->p)
		return 0;
	p = (const unsigned char *)f->p;
	end = p + f->n;
	while (p < end) {
		char *name, *value;

		if (*n == max) {
			agent_headers_free(out, *n);
			*n = 0;
			return DBR_E_INVAL;
		}
		name = take_string(&p, end, &bad);
		value = bad ? NULL : take_string(&p, end, &bad);
		if (!name || !value || !*name) {
			free(name);
			free(value);
			agent_headers_free(out, *n);
			*n = 0;
			return bad || (name && value) ? DBR_E_INVAL : DBR_E_NOMEM;
		}
		out[*n].name = name;
		out[*n].value = value;
		(*n)++;
	}
	return 0;
}

int agent_error_of(const struct agent_msg *m, struct dbr_err *err)
{
	int64_t rc = DBR_E_AGENT;
	const char *msg = agent_msg_text(m, AGENT_T_MESSAGE);

	if (agent_msg_int(m, AGENT_T_RC, &rc) || rc >= 0 || rc < -1000)
		rc = DBR_E_AGENT;
	return dbr_err_set(err, (int)rc, "%s", msg ? msg : "the agent refused the request");
}

/* ---- encoding -------------------------------------------------------------------- */

void agent_enc_begin(struct agent_enc *e, enum agent_type type)
{
	unsigned char head[HEADER_LEN + 2] = { 0, 0, 0, 0, AGENT_PROTO_VERSION, (unsigned char)type };

	dbr_buf_init(&e->buf, AGENT_MSG_MAX + HEADER_LEN, 1);
	e->rc = dbr_buf_add(&e->buf, head, sizeof(head));
}

static int field_head(struct agent_enc *e, unsigned tag, size_t n)
{
	unsigned char head[FIELD_HEAD];

	if (e->rc)
		return e->rc;
	if (tag == 0 || tag >= AGENT_T_MAX || n > AGENT_MSG_MAX)
		return e->rc = n > AGENT_MSG_MAX ? DBR_E_TOO_LARGE : DBR_E_INVAL;
	head[0] = (unsigned char)tag;
	put32(head + 1, (uint32_t)n);
	return e->rc = dbr_buf_add(&e->buf, head, sizeof(head));
}

int agent_enc_bytes(struct agent_enc *e, unsigned tag, const void *p, size_t n)
{
	if (field_head(e, tag, n))
		return e->rc;
	if (n)
		e->rc = dbr_buf_add(&e->buf, p, n);
	return e->rc;
}

int agent_enc_text(struct agent_enc *e, unsigned tag, const char *text)
{
	if (!text)
		return e->rc;
	return agent_enc_bytes(e, tag, text, strlen(text) + 1);
}

int agent_enc_int(struct agent_enc *e, unsigned tag, int64_t v)
{
	unsigned char b[8];
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)u;
		u >>= 8;
	}
	return agent_enc_bytes(e, tag, b, sizeof(b));
}

static int add_string(struct agent_enc *e, const char *s)
{
	unsigned char len[HEADER_LEN];
	size_t n = strlen(s);

	if (n > AGENT_MSG_MAX)
		return e->rc = DBR_E_TOO_LARGE;
	put32(len, (uint32_t)n);
	if (!(e->rc = dbr_buf_add(&e->buf, len, sizeof(len))))
		e->rc = dbr_buf_add(&e->buf, s, n);
	return e->rc;
}

int agent_enc_headers(struct agent_enc *e, unsigned tag, const struct dbr_http_header *h,
		      size_t n)
{
	size_t total = 0, at;

	if (e->rc || n == 0)
		return e->rc;
	if (n > AGENT_HEADERS_MAX)
		return e->rc = DBR_E_TOO_LARGE;
	for (size_t i = 0; i < n; i++)
		total += 2 * HEADER_LEN + strlen(h[i].name) + strlen(h[i].value);
	if (field_head(e, tag, total))
		return e->rc;
	at = e->buf.len;
	for (size_t i = 0; i < n && !e->rc; i++)
		if (!add_string(e, h[i].name))
			add_string(e, h[i].value);
	if (!e->rc && e->buf.len - at != total)
		e->rc = DBR_E_INTERNAL;
	return e->rc;
}

int agent_enc_end(struct agent_enc *e)
{
	if (e->rc)
		return e->rc;
	if (e->buf.len - HEADER_LEN > AGENT_MSG_MAX)
		return e->rc = DBR_E_TOO_LARGE;
	put32((unsigned char *)e->buf.data, (uint32_t)(e->buf.len - HEADER_LEN));
	return 0;
}

void agent_enc_release(struct agent_enc *e)
{
	dbr_buf_release(&e->buf);
	e->rc = 0;
}

/* ---- framing --------------------------------------------------------------------- */

int agent_send(int fd, struct agent_enc *e, struct dbr_err *err)
{
	const char *p = e->buf.data;
	size_t left = e->buf.len;
	int rc = agent_enc_end(e);

	if (rc)
		return dbr_err_set(err, rc, "the message for the agent could not be built (%s)",
				   dbr_strerror(rc));
	while (left > 0) {
		/* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE */
		ssize_t w = send(fd, p, left, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return dbr_err_set(err, DBR_E_IO, "cannot write to the agent's socket: %s",
					   strerror(errno));
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/* Wait until fd is readable. */
static int wait_readable(int fd, long timeout_ms, int interruptible, struct dbr_err *err)
{
	switch (dbr_wait_fd(fd, POLLIN, timeout_ms >= 0 ? dbr_mono_ms() + timeout_ms : -1,
			    interruptible)) {
	case 0:
		return 0;
	case DBR_E_INTERRUPTED:
		return dbr_err_set(err, DBR_E_INTERRUPTED, "interrupted while waiting for the "
				   "agent's answer");
	case DBR_E_TIMEOUT:
		return dbr_err_set(err, DBR_E_TIMEOUT, "the agent did not answer within %ld s (it "
				   "may be stopped or hung: resume it with kill -CONT, or kill it "
				   "and start another; or run the command with --no-agent)",
				   (timeout_ms + 999) / 1000);
	default:
		return dbr_err_set(err, DBR_E_IO, "cannot wait for the agent's socket: %s",
				   strerror(errno));
	}
}

static int read_exact(int fd, char *p, size_t n, long timeout_ms, int interruptible,
		      struct dbr_err *err)
{
	while (n > 0) {
		ssize_t r;
		int rc = wait_readable(fd, timeout_ms, interruptible, err);

		if (rc)
			return rc;
		r = read(fd, p, n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return dbr_err_set(err, DBR_E_IO, "cannot read from the agent's socket: %s",
					   strerror(errno));
		if (r == 0)
			return dbr_err_set(err, DBR_E_IO, "the other side closed the connection");
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int agent_recv(int fd, struct dbr_buf *b, struct agent_msg *m, long timeout_ms,
	       int interruptible, struct dbr_err *err)
{
	unsigned char head[HEADER_LEN];
	uint32_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	dbr_buf_reset(b);
	rc = read_exact(fd, (char *)head, sizeof(head), timeout_ms, interruptible, err);
	if (rc)
		return rc;
	n = get32(head);
	if (n == 0 || n > AGENT_MSG_MAX)
		return dbr_err_set(err, n ? DBR_E_TOO_LARGE : DBR_E_INVAL,
				   "a message of %lu bytes on the agent's socket (at most %u): "
				   "not dbroker's agent protocol %d", (unsigned long)n,
				   (unsigned)AGENT_MSG_MAX, AGENT_PROTO_VERSION);
	/* the buffer grows with the bytes that arrive, not with the length the
	 * peer announces: four bytes claiming the cap cost nothing */
	while (b->len < n) {
		size_t want = n - b->len < RECV_SLICE ? n - b->len : RECV_SLICE;

		if ((rc = dbr_buf_grow(b, want)))
			return dbr_err_set(err, rc, "no memory for a message of %lu bytes",
					   (unsigned long)n);
		rc = read_exact(fd, b->data + b->len, want, timeout_ms, interruptible, err);
		if (rc)
			return rc;
		b->len += want;
		b->data[b->len] = '\0';
	}
	if (agent_msg_decode(b->data, n, m))
		return dbr_err_set(err, DBR_E_INVAL, "a malformed message on the agent's socket "
				   "(not dbroker's agent protocol %d)", AGENT_PROTO_VERSION);
	return 0;
}

int agent_ask(int fd, struct agent_enc *e, struct dbr_buf *b, struct agent_msg *m,
	      long timeout_ms, struct dbr_err *err)
{
	struct dbr_err ignored = DBR_ERR_INIT;
	int rc = agent_send(fd, e, err);

	/* the peer is gone: what it wrote before is there at once, or nothing */
	if (rc == DBR_E_IO && agent_recv(fd, b, m, 1000, 0, &ignored) == 0)
		return 0;
	return rc ? rc : agent_recv(fd, b, m, timeout_ms, 1, err);
}
