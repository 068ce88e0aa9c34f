/* dbroker-layer: net */
/* Workspace URLs as users write them, brought to one form. */
#ifndef DBROKER_HOST_URL_H
#define DBROKER_HOST_URL_H

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Normalise a workspace URL: adds https:// when no scheme is given, strips
 * trailing slashes, refuses userinfo ("user:pw@"), paths other than "/",
 * query, fragment, whitespace and control characters. *out is malloc'ed
 * (free()). Returns 0 or DBR_E_INVAL with a message. */
DBR_API int dbr_normalize_host(const char *in, char **out, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
