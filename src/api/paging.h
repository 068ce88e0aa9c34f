/* One page of a list that pages with next_page_token (paging.c). */
#ifndef DBROKER_API_PAGING_H
#define DBROKER_API_PAGING_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include "dbroker/errors.h"

/* All pages of one list together: the answers' bytes are kept as items
 * until the list is printed, so a workspace that sends page after page
 * cannot take all of memory. */
#define API_LIST_MAX_BYTES (256u << 20)

/* A list being read page by page: items (the caller's array) receives the
 * items, at most limit (0: all); tok holds the next page's token. */
struct api_pages {
	cJSON *items;
	long limit;
	long count;
	int more;       /* limit stopped before the end */
	char *tok;      /* cap bytes, "" before the first page and at the end */
	size_t cap;
	size_t bytes;   /* the answers' bytes so far */
	int pages;      /* pages taken so far */
};

/* Count an answer of bytes into *total. Returns 1 (nothing counted) when
 * the total would pass API_LIST_MAX_BYTES, else 0. */
int api_pages_over(size_t *total, size_t bytes);

/* Move page[key]'s items into p->items and read its next_page_token;
 * page_bytes is the size of the answer page was parsed from. Returns 1
 * when the list is done (the last page, or limit reached: then p->more
 * says whether there was more), 0 to ask for the next page, DBR_E_API
 * (page[key] is not a list; a token too long or repeated) or
 * DBR_E_TOO_LARGE (the answers passed API_LIST_MAX_BYTES). */
int api_pages_take(struct api_pages *p, cJSON *page, size_t page_bytes, const char *key,
		   struct dbr_err *err);

#endif
