/* Internals of the request module (request.c), shared with its agent
 * transport (request_agent.c). Internal to libdbroker. */
#ifndef DBROKER_REQUEST_INTERNAL_H
#define DBROKER_REQUEST_INTERNAL_H

#include "dbroker/request.h"
#include "buf.h"
#include "retry.h"

struct dbr_client {
	const struct dbr_credential *cred; /* borrowed; NULL through an agent */
	char *host;                        /* normalised workspace URL */
	char *ca_file;
	char *profile;                     /* for messages, or NULL */
	struct dbr_log *log;               /* borrowed, may be NULL */
	int allow_insecure_loopback;
	long timeout_ms;
	long retry_window_ms;              /* < 0: no retries */
	long unreachable_window_ms;
	long deadline_ms;                  /* dbr_mono_ms() bound, 0: none */
	long deadline_len_ms;              /* its length when it was set */
	int outcome_unknown;               /* of the last call */
	struct dbr_rng rng;
	int via_agent;                     /* every call goes to the agent */
	int agent_fd;                      /* its connection; -1 once lost */
	char *agent_path;                  /* its socket, for messages */
	char *agent_source;                /* the provider the agent named */
};

/* Options from a caller built against an older (shorter) struct: the
 * fields it does not know are zero. Returns 0 or DBR_E_INVAL. */
int dbr_client_options_copy(const struct dbr_client_options *in,
			    struct dbr_client_options *out, struct dbr_err *err);

/* A client with opt's log, loopback permission and limits (the defaults
 * filled in), nothing else yet, into *out (dbr_client_free()). Returns 0,
 * DBR_E_INVAL (a negative timeout) or DBR_E_NOMEM. */
int dbr_client_alloc(const struct dbr_client_options *opt, struct dbr_client **out,
		     struct dbr_err *err);

/* dbr_client_call() (fw NULL) or dbr_client_forward() (fw set) of a client
 * opened with dbr_client_new_agent(): the agent signs and sends. Same
 * returns as those, plus DBR_E_AGENT (the agent went away or broke the
 * protocol: the outcome of a write is then unknown). */
int dbr_agent_client_call(struct dbr_client *c, const char *method, const char *path,
			  const char *body, size_t body_len, unsigned flags,
			  const struct dbr_forward *fw, struct dbr_http_response *resp,
			  struct dbr_api_error *api_err, struct dbr_err *err);

/* "the workspace 'H' answered 400 CODE: message (request id X)" appended
 * to b, the message masked with the client's credential (request_error.c). */
void request_describe_answer(const struct dbr_client *c, const struct dbr_api_error *e,
			     struct dbr_buf *b);

/* The error for an attempt that is not retried (or when retries are off):
 * the answer e (rc 0) or the transport failure last (rc), with advice; sets
 * err and returns its code (request_error.c). */
int request_final_error(const struct dbr_client *c, int rc, const struct dbr_api_error *e,
			const struct dbr_err *last, enum dbr_retry_class cls, const char *method,
			const char *path, struct dbr_err *err);

#endif
