/* Shared by jobs.c (the calls), jobs_run.c (reading runs) and
 * jobs_request.c (run-now and submit bodies). Internal.
 */
#ifndef DBROKER_JOBS_INTERNAL_H
#define DBROKER_JOBS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dbroker/jobs.h"

enum job_request_kind { JOB_RUN_NOW, JOB_SUBMIT };

/* The body is a cJSON object (wiping allocation hooks); keys unique. */
struct dbr_job_request {
	enum job_request_kind kind;
	cJSON *root;
};

/* 1 with *out when v is a whole number in 1..DBR_JOB_ID_MAX. */
int jobs_id_of(const cJSON *v, int64_t *out);

/* o[key] when o is an object, else NULL. */
const cJSON *jobs_get(const cJSON *o, const char *key);

/* o[key] as one clean line of text ("" when it is not a string). */
void jobs_copy_clean(char *dst, size_t cap, const cJSON *obj, const char *key);

/* Fill out (released first) from a parsed runs/get answer. Returns 0,
 * DBR_E_API, DBR_E_NOMEM (out released on failure). */
int jobs_run_from_doc(const cJSON *doc, struct dbr_job_run *out, struct dbr_err *err);

#endif
