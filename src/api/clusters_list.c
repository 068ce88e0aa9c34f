/* clusters/list, every page (see dbroker/clusters.h). */
#include "dbroker/clusters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "dbroker/api_error.h"
#include "dbroker/request.h"
#include "answer.h"
#include "paging.h"
#include "banned.h"

#define CLUSTERS_PAGE_MAX 100   /* the most page_size the service takes */
#define CLUSTERS_PAGES_MAX 10000
#define CLUSTERS_TOKEN_MAX 2048

/* path for the next page: no query at all for the first page of a full
 * list (the service decides the page size), page_size for a limited one,
 * page_token (URL-encoded) after that. Returns 0 or -1 (too long). */
static int page_path(char *path, size_t cap, long want, const char *tok)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n;
	int w = snprintf(path, cap, DBR_CLUSTERS_API "/list");

	if (want > 0)
		w += snprintf(path + w, cap - (size_t)w, "?page_size=%ld",
			      want < CLUSTERS_PAGE_MAX ? want : CLUSTERS_PAGE_MAX);
	if (!tok[0])
		return 0;
	w += snprintf(path + w, cap - (size_t)w, "%cpage_token=", want > 0 ? '&' : '?');
	n = (size_t)w;
	for (const unsigned char *p = (const unsigned char *)tok; *p; p++) {
		if (n + 4 >= cap)
			return -1;
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			path[n++] = (char)*p;
		} else {
			path[n++] = '%';
			path[n++] = hex[*p >> 4];
			path[n++] = hex[*p & 15];
		}
	}
	path[n] = '\0';
	return 0;
}

/* One page as a JSON object, the answer's size in *bytes; NULL with err
 * set. */
static cJSON *get_page(struct dbr_client *c, const char *path, size_t *bytes,
		       struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	cJSON *doc = NULL;

	if (dbr_client_call(c, "GET", path, NULL, 0, 0, &resp, &aerr, err) == 0) {
		doc = api_parse_object(resp.body, resp.body_len, "clusters/list", err);
		*bytes = resp.body_len;
	}
	dbr_http_response_release(&resp);
	return doc;
}

int dbr_clusters_list_some(struct dbr_client *c, long limit, char **json,
			   struct dbr_err *err)
{
	char path[CLUSTERS_TOKEN_MAX + 128], tok[CLUSTERS_TOKEN_MAX] = "";
	struct api_pages pg = { .limit = limit, .tok = tok, .cap = sizeof(tok) };
	cJSON *out, *page = NULL;
	size_t bytes = 0;
	int rc = 0;

	*json = NULL;
	if (limit < 0)
		return dbr_err_set(err, DBR_E_INVAL, "the limit must be 0 (all) or more");
	out = cJSON_CreateObject();
	pg.items = out ? cJSON_AddArrayToObject(out, "clusters") : NULL;
	if (!pg.items)
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	for (int pages = 0; rc == 0; pages++) {
		if (pages >= CLUSTERS_PAGES_MAX) {
			rc = dbr_err_set(err, DBR_E_API, "clusters/list sent more than %d pages",
					 CLUSTERS_PAGES_MAX);
			break;
		}
		if (page_path(path, sizeof(path), limit ? limit - pg.count : 0, tok)) {
			rc = dbr_err_set(err, DBR_E_API, "the page token is too long");
			break;
		}
		if (!(page = get_page(c, path, &bytes, err))) {
			rc = err->code ? err->code : DBR_E_API;
			break;
		}
		rc = api_pages_take(&pg, page, bytes, "clusters", err);
		if (rc) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		cJSON_Delete(page);
		page = NULL;
	}
	cJSON_Delete(page);
	if (rc == 0 && pg.more && !cJSON_AddTrueToObject(out, "has_more"))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	if (rc == 0) {
		/* cJSON's allocator may be the wiping one (alloc.c): hand out malloc */
		char *text = cJSON_PrintUnformatted(out);

		*json = text ? strdup(text) : NULL;
		cJSON_free(text);
		if (!*json)
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	cJSON_Delete(out);
	return rc;
}
