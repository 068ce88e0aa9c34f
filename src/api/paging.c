/* Lists that page with next_page_token: clusters/list, jobs/list,
 * runs/list (see paging.h). */
#include "paging.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

int api_pages_over(size_t *total, size_t bytes)
{
	if (bytes > API_LIST_MAX_BYTES - *total)
		return 1;
	*total += bytes;
	return 0;
}

int api_pages_take(struct api_pages *p, cJSON *page, size_t page_bytes, const char *key,
		   struct dbr_err *err)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(page, key);
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(page,
									       "next_page_token"));

	if (arr && !cJSON_IsArray(arr))
		return dbr_err_set(err, DBR_E_API, "the workspace answered with '%s' that is "
				   "not a list", key);
	p->pages++;
	if (api_pages_over(&p->bytes, page_bytes))
		return dbr_err_set(err, DBR_E_TOO_LARGE, "the list of %s is over %u MiB after "
				   "%d pages: give --limit N to read part of it", key,
				   API_LIST_MAX_BYTES >> 20, p->pages);
	while (arr && arr->child && (!p->limit || p->count < p->limit)) {
		cJSON_AddItemToArray(p->items, cJSON_DetachItemViaPointer(arr, arr->child));
		p->count++;
	}
	if (t && *t && (strlen(t) >= p->cap / 3 || strcmp(t, p->tok) == 0))
		return dbr_err_set(err, DBR_E_API, "the workspace sent a next_page_token that is "
				   "too long or the same as before: cannot page on");
	snprintf(p->tok, p->cap, "%s", t ? t : "");
	if (p->limit && p->count >= p->limit) {
		p->more = (arr && arr->child) || p->tok[0];
		return 1;
	}
	return !p->tok[0];
}
