/* The exec proxy's streamed answers: a body of any size goes to the
 * connection as it comes, from the worker's ring or the paused kept
 * connection, and is looked at for the credential on its way. */
#include "proxy_relay.h"

#include <stdlib.h>
#include <string.h>

#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "banned.h"

static void log_broke_off(const struct relay *r, const char *why)
{
	dbr_log_warn(r->p->log, "exec proxy: the answer to %s %.*s broke off: %s", r->method,
		     (int)strcspn(r->target, "?"), r->target, why);
}

/* What the worker has put in the ring, waiting for it: > 0 bytes, 0 at
 * the body's end, -1 when it broke off (logged). */
static ssize_t ring_take(struct relay *r, char *buf, size_t max)
{
	ssize_t out;

	pthread_mutex_lock(&r->mu);
	while (r->ring_len == 0 && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->ring_len == 0) {
		out = r->rc ? -1 : 0;
		if (r->rc)
			log_broke_off(r, r->err.msg);
	} else {
		size_t k = r->ring_len < max ? r->ring_len : max;

		if (k > RING_CAP - r->ring_head)
			k = RING_CAP - r->ring_head;
		memcpy(buf, r->ring + r->ring_head, k);
		r->ring_head = (r->ring_head + k) % RING_CAP;
		r->ring_len -= k;
		out = (ssize_t)k;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return out;
}

/* The paused body, read on the connection's thread, which made the
 * request: as ring_take. */
static ssize_t paused_take(struct relay *r, char *buf, size_t max)
{
	struct dbr_err err = DBR_ERR_INIT;
	long n = dbr_http_paused_read(r->paused, buf, max, &err);

	if (n >= 0)
		return (ssize_t)n;
	log_broke_off(r, err.msg);
	return -1;
}

/* The next bytes of the body, from where they come: as ring_take. */
static ssize_t body_take(struct relay *r, char *buf, size_t max)
{
	return r->paused ? paused_take(r, buf, max) : ring_take(r, buf, max);
}

/* More of the body into held; at its end, or where it broke off
 * (held_broke), held_end is set. */
static void held_fill(struct relay *r)
{
	ssize_t n = body_take(r, r->held + r->held_len, r->held_cap - r->held_len);

	if (n <= 0) {
		r->held_end = 1;
		r->held_broke = n < 0;
		return;
	}
	r->held_len += (size_t)n;
}

/* All of a sized body is held: sent now, without a read that waits for
 * its end (libmicrohttpd asks no more once it has the length). */
static int held_all(const struct relay *r, uint64_t pos)
{
	return r->length != MHD_SIZE_UNKNOWN && pos + r->held_len >= r->length;
}

/* MHD_ContentReaderCallback of a streamed body. With secrets to look for,
 * the last held_back bytes (the longest secret or encoding the masker
 * knows, less one) are sent only with what follows them: a secret is then
 * seen whole before any byte of it leaves, also when it spans two reads.
 * One found cuts the answer (its head is sent: no 502 can follow). */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct relay *r = cls;
	size_t n;

	if (!r->held_back) {
		ssize_t k = body_take(r, buf, max);

		return k > 0 ? k : k == 0 ? MHD_CONTENT_READER_END_OF_STREAM
					  : MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (!r->held) {
		/* no more than a sized body needs (the buffer is wiped when freed) */
		size_t body = r->length != MHD_SIZE_UNKNOWN && r->length < STREAM_BLOCK
				      ? (size_t)r->length : STREAM_BLOCK;

		if (!(r->held = malloc(r->held_cap = r->held_back + body)))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (!r->held_end && r->held_len < r->held_cap && !held_all(r, pos))
		held_fill(r);
	while (!r->held_end && r->held_len <= r->held_back && !held_all(r, pos))
		held_fill(r);
	if (held_all(r, pos))
		r->held_end = 1;
	if (relay_carries_secret(r->p, r->held, r->held_len)) {
		struct dbr_err err = DBR_ERR_INIT;

		relay_withhold(&err);
		log_broke_off(r, err.msg);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = r->held_end ? r->held_len : r->held_len - r->held_back;
	if (n > max)
		n = max;
	/* what came before a break is sent, then the break */
	if (!n)
		return r->held_broke ? MHD_CONTENT_READER_END_WITH_ERROR
				     : MHD_CONTENT_READER_END_OF_STREAM;
	memcpy(buf, r->held, n);
	memmove(r->held, r->held + n, r->held_len - n);
	r->held_len -= n;
	return (ssize_t)n;
}

static void free_relay_cb(void *cls)
{
	relay_free(cls);
}

enum MHD_Result relay_queue_stream(struct MHD_Connection *conn, struct relay *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t block = STREAM_BLOCK, longest = dbr_mask_longest(r->p->mask);

	/* libmicrohttpd allocates and clears the block with every answer: no
	 * more than a sized body needs */
	if (r->length != MHD_SIZE_UNKNOWN && r->length < STREAM_BLOCK)
		block = r->length < 1024 ? 1024 : (size_t)r->length;
	if (longest)
		r->held_back = longest - 1;
	resp = MHD_create_response_from_callback(r->length, block, read_stream, r,
						 free_relay_cb);
	if (!resp) {
		relay_free(r);
		return MHD_NO;
	}
	relay_add_down_headers(resp, r);
	ok = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}
