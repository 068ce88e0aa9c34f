/* The exec proxy's forwarding (proxy_relay.c) and the streaming of an
 * answer's body to the connection (proxy_relay_stream.c). Internal to
 * libdbroker. */
#ifndef DBROKER_PROXY_RELAY_H
#define DBROKER_PROXY_RELAY_H

#include <pthread.h>
#include <stdint.h>

#include "proxy_internal.h"

/* the streaming ring, and the most of a 2xx answer collected to be sent
 * whole (one write to the child instead of the headers, then the body) */
#define RING_CAP (256u * 1024)
/* the most libmicrohttpd asks of a streamed body at a time */
#define STREAM_BLOCK (64u * 1024)

struct relay {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int here;                  /* run on the connection's thread */
	int submitted;             /* handed to the worker: it sets done */

	/* the request (owned) */
	struct dbr_proxy *p;
	char method[32];
	char *target;
	struct proxy_headers up;
	char *body;
	size_t body_len;
	unsigned flags;
	int head;
	int whole;                 /* the client hands the answer over whole
				      (an agent's): nothing to pause or redo */

	/* the answer */
	long status;
	struct proxy_headers down;    /* of the latest attempt */
	int collect;               /* its 2xx body is collected in the ring */
	int streaming;             /* its body comes through the ring */
	int redo;                  /* here, too large: ask again on the worker */
	uint64_t length;           /* its Content-Length, or MHD_SIZE_UNKNOWN */
	int done;                  /* the forward has finished */
	int rc;
	struct dbr_err err;
	struct dbr_http_response resp;
	int client_gone;           /* the connection ended: stop the transfer */
	int client_fd;             /* the connection's socket, or -1 */
	int client_left;           /* it hung up while a retry waited */
	struct dbr_http_paused *paused; /* here: the body, still to read */

	char *ring;                /* ring_cap bytes: as much as a collected
				      answer needs, RING_CAP to stream */
	size_t ring_cap, ring_head, ring_len;

	int withheld;              /* a header carried the credential */
	/* a streamed body's latest bytes, not yet sent (read_stream) */
	char *held;
	size_t held_len, held_cap, held_back;
	int held_end, held_broke;  /* the body ended; it broke off */
};

/* 1 when text holds the credential dbroker signs with (or another secret
 * the masker knows, in an encoding it knows): the child never gets it. */
int relay_carries_secret(const struct dbr_proxy *p, const char *text, size_t len);

/* Set err for an answer that carried the credential; returns its code. */
int relay_withhold(struct dbr_err *err);

/* Wait for the worker (when r was handed to it), then wipe and free r.
 * NULL is fine. */
void relay_free(struct relay *r);

void relay_add_down_headers(struct MHD_Response *resp, const struct relay *r);

/* Queue the answer whose body comes through the ring (from the worker) or
 * r->paused; r is the response's and freed with it (or here, when no
 * response could be made). */
enum MHD_Result relay_queue_stream(struct MHD_Connection *conn, struct relay *r);

#endif
