/* Reading the workspace's answers. */
#include "answer.h"

#include "banned.h"

cJSON *api_parse_object(const char *body, size_t len, const char *what, struct dbr_err *err)
{
	cJSON *doc = cJSON_ParseWithLength(body ? body : "", body ? len : 0);

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		dbr_err_set(err, DBR_E_API, "the workspace answered %s with something that is not "
			    "a JSON object: check that the host is a Databricks workspace URL", what);
		return NULL;
	}
	return doc;
}
