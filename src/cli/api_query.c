/* dbroker api GET --json: the object as the query string, as the official
 * CLI sends it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

#define QUERY_MAX (64u * 1024)

struct query {
	char *s;
	size_t len, cap;
};

static int put(struct query *q, const char *s, size_t n)
{
	if (q->len + n + 1 > QUERY_MAX)
		return DBR_E_USAGE;
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 256;
		char *p;

		while (cap < q->len + n + 1)
			cap *= 2;
		p = realloc(q->s, cap);
		if (!p)
			return DBR_E_NOMEM;
		q->s = p;
		q->cap = cap;
	}
	memcpy(q->s + q->len, s, n);
	q->len += n;
	q->s[q->len] = '\0';
	return 0;
}

/* RFC 3986 unreserved bytes as they are, everything else %XX. */
static int put_encoded(struct query *q, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
		char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			rc = put(q, (const char *)p, 1);
		else
			rc = put(q, e, 3);
	}
	return rc;
}

/* One key=value pair; a scalar value only. */
static int put_pair(struct query *q, const char *key, const cJSON *v, struct dbr_err *err)
{
	char num[64];
	const char *text;
	int rc;

	if (cJSON_IsString(v))
		text = v->valuestring;
	else if (cJSON_IsBool(v))
		text = cJSON_IsTrue(v) ? "true" : "false";
	else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
		snprintf(num, sizeof(num), "%lld", (long long)v->valuedouble), text = num;
	else if (cJSON_IsNumber(v))
		snprintf(num, sizeof(num), "%.17g", v->valuedouble), text = num;
	else
		return dbr_err_set(err, DBR_E_USAGE, "--json for GET becomes the query string: "
				   "'%s' must be a string, number, boolean or a list of them",
				   key);
	rc = put(q, q->len ? "&" : "", q->len ? 1 : 0);
	if (rc == 0)
		rc = put_encoded(q, key);
	if (rc == 0)
		rc = put(q, "=", 1);
	if (rc == 0)
		rc = put_encoded(q, text);
	return rc;
}

int cli_api_query(const char *path, const char *json, size_t len, char **out,
		  struct dbr_err *err)
{
	struct query q = { 0 };
	cJSON *doc = cJSON_ParseWithLength(json, len), *it;
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return dbr_err_set(err, DBR_E_USAGE, "--json for GET becomes the query string: "
				   "give a JSON object such as '{\"cluster_id\": \"...\"}'");
	}
	cJSON_ArrayForEach(it, doc) {
		if (rc)
			break;
		if (cJSON_IsNull(it))
			continue;
		if (cJSON_IsArray(it)) {
			const cJSON *el;

			cJSON_ArrayForEach(el, it)
				if (rc == 0)
					rc = put_pair(&q, it->string, el, err);
		} else {
			rc = put_pair(&q, it->string, it, err);
		}
	}
	cJSON_Delete(doc);
	if (rc == 0)
		rc = put(&q, "", 0);
	if (rc == 0) {
		size_t n = strlen(path) + q.len + 2;

		*out = malloc(n);
		if (!*out)
			rc = DBR_E_NOMEM;
		else
			snprintf(*out, n, "%s%s%s", path, !q.len ? "" : strchr(path, '?') ? "&" : "?",
				 q.s);
	}
	free(q.s);
	if (rc == DBR_E_USAGE && !err->msg[0])
		dbr_err_set(err, rc, "--json for GET makes a query string longer than %u bytes",
			    QUERY_MAX);
	else if (rc == DBR_E_NOMEM)
		dbr_err_set(err, rc, "out of memory");
	return rc;
}
