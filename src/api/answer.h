/* Reading the workspace's answers (answer.c). Internal to the api layer. */
#ifndef DBROKER_API_ANSWER_H
#define DBROKER_API_ANSWER_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include "dbroker/errors.h"

/* body[0..len) (NULL: empty) parsed as a JSON object; NULL with err set
 * (DBR_E_API) when it is not one: "the workspace answered WHAT with
 * something that is not a JSON object: check that the host is ...". */
cJSON *api_parse_object(const char *body, size_t len, const char *what, struct dbr_err *err);

#endif
