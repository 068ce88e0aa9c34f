/* The agent protocol, version 1: what a dbroker client and `dbroker agent`
 * say over the agent's Unix socket. Internal to libdbroker (the client
 * side, request_agent.c and agent_control.c, and the agent, serve/agent_server*.c).
 *
 * A message is a frame: a 4-byte big-endian length N (1 <= N <=
 * AGENT_MSG_MAX), then N bytes: a version byte (AGENT_PROTO_VERSION), a type
 * byte (enum agent_type), then fields, each a tag byte, a 4-byte
 * big-endian length and that many bytes. A tag appears at most once;
 * unknown tags are skipped (a newer peer may add fields), a version other
 * than ours is refused. Text fields carry their terminating NUL (and no
 * other), so a decoded text is usable in place; integers are 8 bytes
 * big-endian two's complement. Every message, however built, is checked
 * by agent_msg_decode() before any field is used.
 */
#ifndef DBROKER_AGENT_PROTO_H
#define DBROKER_AGENT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dbroker/errors.h"
#include "dbroker/http.h"

#define AGENT_PROTO_VERSION 1
/* The hard cap of a message: the largest answer the HTTP client collects
 * (or request body, DBR_AGENT_MAX_BODY) plus room for the other fields. */
#define AGENT_MSG_MAX (DBR_HTTP_DEFAULT_MAX_RESPONSE + (1u << 20))
/* Headers in one message, at most (a request's or an answer's). */
#define AGENT_HEADERS_MAX 128

enum agent_type {
	/* client -> agent */
	AGENT_OPEN = 1,      /* PROFILE: resolve (or reuse) its credential */
	AGENT_CALL = 2,      /* PROFILE METHOD PATH [BODY FLAGS TIMEOUT ...] */
	AGENT_STATUS = 3,    /* what the agent holds */
	AGENT_LOCK = 4,      /* forget every credential now */
	AGENT_FORGET = 5,    /* [PROFILE] forget one (or every) credential */
	AGENT_STOP = 6,      /* forget everything and exit */
	/* agent -> client */
	AGENT_R_OK = 0x81,   /* [HOST AUTH_TYPE SOURCE TEXT] */
	AGENT_R_ERROR = 0x82,/* RC MESSAGE */
	AGENT_R_CALL = 0x83, /* RC [MESSAGE] STATUS ... (the call's outcome) */
};

enum agent_tag {
	AGENT_T_PROFILE = 1,     /* text */
	AGENT_T_METHOD = 2,      /* text */
	AGENT_T_PATH = 3,        /* text */
	AGENT_T_BODY = 4,        /* bytes */
	AGENT_T_FLAGS = 5,       /* int: DBR_CALL_* */
	AGENT_T_TIMEOUT = 6,     /* int: ms per attempt, 0 default */
	AGENT_T_WINDOW = 7,      /* int: retry window ms, 0 default, < 0 none */
	AGENT_T_UNREACHABLE = 8, /* int: ms */
	AGENT_T_DEADLINE = 9,    /* int: ms left until the caller's deadline */
	AGENT_T_HEADERS = 10,    /* headers: request headers (forwarded calls) */
	AGENT_T_FORWARD = 11,    /* int 1: dbr_client_forward() semantics */
	AGENT_T_RC = 32,         /* int: 0 or a DBR_E_* code */
	AGENT_T_MESSAGE = 33,    /* text: what went wrong */
	AGENT_T_STATUS = 34,     /* int: HTTP status */
	AGENT_T_CTYPE = 35,      /* text */
	AGENT_T_RETRY_AFTER = 36,/* int: seconds, -1 none */
	AGENT_T_REQUEST_ID = 37, /* text */
	AGENT_T_UNKNOWN = 38,    /* int 1: the outcome is unknown */
	AGENT_T_API_STATUS = 39, /* int */
	AGENT_T_API_CODE = 40,   /* text */
	AGENT_T_API_MESSAGE = 41,/* text */
	AGENT_T_API_REQID = 42,  /* text */
	AGENT_T_HOST = 43,       /* text: the workspace URL */
	AGENT_T_AUTH_TYPE = 44,  /* text */
	AGENT_T_SOURCE = 45,     /* text: the provider that gave the credential */
	AGENT_T_TEXT = 46,       /* text: a status report (JSON) */
	AGENT_T_RESP_HEADERS = 47,/* headers: the answer's (forwarded calls) */
	AGENT_T_MAX = 64
};

struct agent_field {
	const char *p;  /* into the decoded buffer; NULL when absent */
	uint32_t n;
};

/* A decoded message: fields point into the buffer it was decoded from. */
struct agent_msg {
	uint8_t type;
	struct agent_field f[AGENT_T_MAX];
};

/* Decode payload (the bytes after the length prefix). Returns 0 or
 * DBR_E_INVAL (wrong version, truncated field, repeated tag, no type). */
int agent_msg_decode(const void *payload, size_t len, struct agent_msg *m);

/* Field accessors. agent_msg_text: the text (NUL-terminated, no other NUL)
 * or NULL when absent or malformed. agent_msg_int: 0 and *out, or
 * DBR_E_INVAL when present but not 8 bytes; absent leaves *out as is. */
const char *agent_msg_text(const struct agent_msg *m, unsigned tag);
int agent_msg_int(const struct agent_msg *m, unsigned tag, int64_t *out);

/* An AGENT_R_ERROR answer as the caller's error: its code (DBR_E_AGENT
 * when missing or not a DBR_E_* code) and message. Returns the code. */
int agent_error_of(const struct agent_msg *m, struct dbr_err *err);

/* The headers of a headers field into out[max] (names and values
 * malloc'ed; free with agent_headers_free). Returns 0 (*n set; absent:
 * none), DBR_E_INVAL (malformed, too many, CR/LF/NUL in one), DBR_E_NOMEM. */
int agent_msg_headers(const struct agent_msg *m, unsigned tag, struct dbr_http_header *out,
		      size_t max, size_t *n);
void agent_headers_free(struct dbr_http_header *h, size_t n);

/* A message being built, in a wiping buffer (bodies may hold secrets).
 * agent_enc_begin starts it (leaving room for the length); each add
 * returns 0, DBR_E_TOO_LARGE or DBR_E_NOMEM, and an error sticks: later
 * adds do nothing and agent_enc_end reports the first one.
 * agent_enc_release wipes and frees. */
struct agent_enc {
	struct dbr_buf buf;
	int rc;
};

void agent_enc_begin(struct agent_enc *e, enum agent_type type);
int agent_enc_text(struct agent_enc *e, unsigned tag, const char *text);
int agent_enc_bytes(struct agent_enc *e, unsigned tag, const void *p, size_t n);
int agent_enc_int(struct agent_enc *e, unsigned tag, int64_t v);
int agent_enc_headers(struct agent_enc *e, unsigned tag, const struct dbr_http_header *h,
		      size_t n);
/* Fill in the length prefix. Returns 0, or the first error of the adds. */
int agent_enc_end(struct agent_enc *e);
void agent_enc_release(struct agent_enc *e);

/* Finish (agent_enc_end) and send e. Returns 0, the encoding's error, or
 * DBR_E_IO (errno in err; EPIPE when the peer has gone). */
int agent_send(int fd, struct agent_enc *e, struct dbr_err *err);

/* Receive one message into b (a wiping buffer; reset first) and decode it
 * into m. timeout_ms bounds the wait for its first byte and between bytes
 * (< 0: none); the wait stops early when the process is interrupted
 * (dbr_interrupt) if interruptible. Returns 0, DBR_E_IO (the peer closed:
 * err says "closed"; or a read error), DBR_E_TIMEOUT, DBR_E_INTERRUPTED,
 * DBR_E_TOO_LARGE (over AGENT_MSG_MAX: nothing more is read) or
 * DBR_E_INVAL (does not decode). */
int agent_recv(int fd, struct dbr_buf *b, struct agent_msg *m, long timeout_ms,
	       int interruptible, struct dbr_err *err);

/* Send e and receive the answer into m (agent_send, then agent_recv,
 * interruptible). A peer that closed before it read the request (the agent
 * turning a connection away) may have said why first: then that answer,
 * not the send's error. */
int agent_ask(int fd, struct agent_enc *e, struct dbr_buf *b, struct agent_msg *m,
	      long timeout_ms, struct dbr_err *err);

#endif
