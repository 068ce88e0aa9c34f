/* The exec proxy's header rules: which headers never cross it, and the
 * owned header lists it copies out of libmicrohttpd and libcurl. */
#include "proxy_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

/* Never forwarded in either direction. Alt-Svc names the workspace's
 * other services, not the proxy's; Cookie2 and Set-Cookie2 are the
 * obsolete cookies (RFC 2965), which some clients still keep. */
static const char *const dropped[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer",
	"Upgrade", "Host", "Authorization", "Proxy-Authorization", "Proxy-Authenticate",
	"Proxy-Authentication-Info", "Cookie", "Set-Cookie", "Cookie2", "Set-Cookie2",
	"Content-Length", "Expect", "Accept-Encoding", "Date", "Alt-Svc",
};

int proxy_header_dropped(const char *name, const char *connection)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (strcasecmp(name, dropped[i]) == 0)
			return 1;
	/* the tokens of Connection name more hop-by-hop headers */
	for (const char *c = connection; c && *c;) {
		size_t len;

		c += strspn(c, " \t,");
		len = strcspn(c, " \t,");
		if (len == n && strncasecmp(c, name, n) == 0)
			return 1;
		c += len;
	}
	return 0;
}

/* 1 if the header name must not cross: always dropped, or named by any of
 * the message's Connection headers (h[0..n)): a second Connection header
 * names hop-by-hop headers as well as the first does. */
int proxy_header_dropped_in(const struct dbr_http_header *h, size_t n, const char *name)
{
	if (proxy_header_dropped(name, NULL))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, "Connection") == 0 &&
		    proxy_header_dropped(name, h[i].value))
			return 1;
	return 0;
}

void proxy_headers_clear(struct proxy_headers *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free((char *)s->h[i].name);
		free((char *)s->h[i].value);
	}
	s->n = 0;
}

int proxy_headers_add(struct proxy_headers *s, const char *name, const char *value)
{
	char *a, *b;

	if (s->n >= PROXY_HEADERS_MAX)
		return 0; /* the rest is dropped */
	a = strdup(name);
	b = strdup(value ? value : "");
	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	s->h[s->n].name = a;
	s->h[s->n].value = b;
	s->n++;
	return 0;
}
