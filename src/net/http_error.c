/* What a failed transfer means, in words that say what to do next. */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/x509_vfy.h>

#include "http_internal.h"
#include "http_wire.h"
#include "banned.h"

/* CURLE_TOO_LARGE, by number: libcurl 8.6.0 added it */
#define DBR_CURLE_TOO_LARGE 100

static int tls_verify_error(CURL *h, const struct dbr_http_call *c, const char *why,
			    struct dbr_err *err)
{
	const char *name = c->req->tls_server_name ? c->req->tls_server_name : c->host;
	long vr = X509_V_OK;

	curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr);
	/* libcurl checks the name itself after OpenSSL accepted the chain */
	if (strstr(why, "target host name") || vr == X509_V_ERR_HOSTNAME_MISMATCH ||
	    vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return dbr_err_set(err, DBR_E_TLS,
				   "the certificate of '%s' is not valid for the name '%s' (%s): "
				   "use the host name the certificate was issued for",
				   c->host, name, why);
	switch (vr) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return dbr_err_set(err, DBR_E_TLS,
				   "certificate for '%s' is not trusted (%s): set ca_cert in the "
				   "profile or --ca-cert to the CA that issued it", c->host, why);
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return dbr_err_set(err, DBR_E_TLS,
				   "certificate for '%s' is outside its validity period (%s): "
				   "check the server's certificate and this machine's clock",
				   c->host, why);
	default:
		return dbr_err_set(err, DBR_E_TLS, "certificate for '%s' failed verification (%s): "
				   "check the server's certificate and ca_cert", c->host, why);
	}
}


/* The process has no file descriptor left (EMFILE/ENFILE): libcurl then
 * reports whatever it was opening (a socket, the CA file) as the fault. */
static int out_of_fds(void)
{
	int fd = dup(STDERR_FILENO);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE;
}

static int fds_error(const struct dbr_http_call *c, struct dbr_err *err)
{
	return dbr_err_set(err, DBR_E_IO, "out of file descriptors talking to '%s': raise the "
			   "open-files limit (ulimit -n) or close files, then try again", c->host);
}

/* libcurl says only "could not resolve": ask the resolver whether the name
 * does not exist (not worth retrying) or the lookup failed (it may pass). */
static int name_unknown(const char *host)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (res)
		freeaddrinfo(res);
	return rc == EAI_NONAME;
}

/* A handshake the peer or the network cut off, not one TLS refused. */
static int cut_off(const char *why)
{
	return strstr(why, "reset") || strstr(why, "SSL_ERROR_SYSCALL") ||
	       strstr(why, "unexpected eof") || strstr(why, "Connection refused");
}

static int handshake_done(CURL *h)
{
	curl_off_t t = 0;

	return curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &t) == CURLE_OK && t > 0;
}

/* The answer's status line came (its body, or the rest of its head, did
 * not). */
static int answer_began(CURL *h)
{
	long code = 0;

	return curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0;
}

long dbr_http_stall_s(const struct dbr_http_request *r)
{
	long ms = r->timeout_ms ? r->timeout_ms : DBR_HTTP_DEFAULT_TIMEOUT_MS;

	return ms < 1000 ? 1 : (ms + 999) / 1000;
}

int dbr_http_map_error(CURL *h, const struct dbr_http_call *c, const struct dbr_http_url *p,
		       CURLcode cc, struct dbr_err *err)
{
	const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

	if (c->head.refused == DBR_HTTP_HEAD_TOO_LARGE)
		return dbr_err_set(err, DBR_E_TOO_LARGE, "the answer from '%s' has more than %u "
				   "bytes of headers, more than any workspace sends: check that the "
				   "host is a Databricks workspace URL", c->host, DBR_WIRE_HEAD_MAX);
	if (c->head.refused == DBR_HTTP_HEAD_TWO_LENGTHS)
		return dbr_err_set(err, DBR_E_API, "the answer from '%s' is malformed (Content-Length "
				   "headers that differ), so where its body ends is unknown: check "
				   "that the host is a Databricks workspace URL and what any proxy "
				   "in between does", c->host);
	/* libcurl refuses a header line of 100 KiB or more: as a failed
	 * allocation before 8.6.0, as CURLE_TOO_LARGE (100) since. It is
	 * loaded at run time (curl_lazy.c): a newer one than the headers built
	 * against (which may lack the name) can answer either. */
	if ((cc == CURLE_OUT_OF_MEMORY || (int)cc == DBR_CURLE_TOO_LARGE) && c->head.in_head)
		return dbr_err_set(err, DBR_E_TOO_LARGE, "the answer from '%s' has a header line "
				   "longer than libcurl accepts (or memory ran out reading it): check "
				   "that the host is a Databricks workspace URL", c->host);
	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (c->body_err == DBR_E_NOMEM)
			return dbr_err_set(err, DBR_E_NOMEM, "out of memory reading the response "
					   "from '%s'", c->host);
		if (c->body_err == DBR_E_INTERRUPTED)
			return dbr_err_set(err, DBR_E_INTERRUPTED, "the receiver of the answer from "
					   "'%s' stopped the transfer", c->host);
		if (c->body_err != DBR_E_TOO_LARGE)
			break;
		/* fall through */
	case CURLE_FILESIZE_EXCEEDED:
		return dbr_err_set(err, DBR_E_TOO_LARGE, "response from '%s' exceeds %zu bytes: "
				   "ask for less (a filter or a smaller page)", c->host, c->body.max);
	case CURLE_OPERATION_TIMEDOUT:
		return dbr_err_set(err, DBR_E_TIMEOUT, "request to '%s' timed out (%s): check that "
				   "the server is reachable, or raise the timeout", c->host, why);
	case CURLE_PEER_FAILED_VERIFICATION:
		return tls_verify_error(h, c, why, err);
	case CURLE_SSL_CACERT_BADFILE:
		if (out_of_fds())
			return fds_error(c, err);
		return dbr_err_set(err, DBR_E_TLS, "cannot load the CA certificates for '%s' (%s): "
				   "check that ca_cert is a readable PEM file", c->host, why);
	case CURLE_SSL_CERTPROBLEM:
		return dbr_err_set(err, DBR_E_TLS, "cannot use the client certificate (%s): check that "
				   "client_cert and client_key are PEM files that belong together", why);
	case CURLE_SSL_CONNECT_ERROR:
		if (cut_off(why))
			return dbr_err_set(err, DBR_E_NETWORK, "the connection to '%s' was cut off "
					   "during the TLS handshake (%s): check the network and "
					   "try again", c->host, why);
		/* fall through */
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return dbr_err_set(err, DBR_E_TLS, "TLS handshake with '%s' failed (%s): the server "
				   "may need TLS 1.2 or later, or a client certificate", c->host, why);
	case CURLE_COULDNT_RESOLVE_HOST:
		if (name_unknown(c->host))
			return dbr_err_set(err, DBR_E_NO_SUCH_HOST, "the host name '%s' does not "
					   "exist (%s): check the workspace URL for a typo",
					   c->host, why);
		return dbr_err_set(err, DBR_E_UNREACHABLE, "cannot resolve host name '%s' (%s): "
				   "check your DNS settings and the network", c->host, why);
	case CURLE_COULDNT_CONNECT:
		if (out_of_fds())
			return fds_error(c, err);
		return dbr_err_set(err, DBR_E_UNREACHABLE, "cannot connect to '%s' port %s (%s): "
				   "check the URL and that the server is running", c->host, p->port,
				   why);
	case CURLE_OUT_OF_MEMORY:
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory talking to '%s'", c->host);
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* libcurl's word for an answer without a status line, too: not
		 * the caller's URL, and no 400 for a proxy's client */
		if (strstr(why, "HTTP/0.9"))
			return dbr_err_set(err, DBR_E_API, "the answer from '%s' is not HTTP (%s): "
					   "check that the host is a Databricks workspace URL and "
					   "what any proxy in between does", c->host, why);
		return dbr_err_set(err, DBR_E_INVAL, "refusing the URL for '%s' (%s): use https://",
				   c->host, why);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		/* With TLS 1.3 a server that wants a client certificate says so
		 * only after the handshake: as an alert, or (racing our request)
		 * by closing the connection. */
		if (strstr(why, "alert"))
			return dbr_err_set(err, DBR_E_TLS, "'%s' ended the TLS session (%s): if it "
					   "requires a client certificate, set client_cert and "
					   "client_key", c->host, why);
		if (answer_began(h))
			return dbr_err_set(err, DBR_E_NETWORK, "the answer from '%s' broke off (%s): "
					   "check the network and try again", c->host, why);
		if (handshake_done(h))
			return dbr_err_set(err, DBR_E_NETWORK, "'%s' closed the connection without "
					   "answering (%s)%s", c->host, curl_easy_strerror(cc),
					   c->req->client_cert ? "" :
					   "; a server that requires a client certificate does this "
					   "too: then set client_cert and client_key");
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		if (c->stalled)
			return dbr_err_set(err, DBR_E_TIMEOUT, "'%s' sent nothing for %ld s: the "
					   "transfer stalled and was cut; check that the server is "
					   "reachable and try again", c->host, c->stall_ms / 1000);
		if (c->replay_refused)
			return dbr_err_set(err, DBR_E_NETWORK, "'%s' closed the kept-alive connection "
					   "without answering, after the request was sent%s", c->host,
					   c->req->client_cert ? "" :
					   "; a server that requires a client certificate does this "
					   "too: then set client_cert and client_key");
		return dbr_err_set(err, DBR_E_INTERRUPTED, "request to '%s' interrupted", c->host);
	default:
		break;
	}
	return dbr_err_set(err, DBR_E_NETWORK, "request to '%s' failed (%s): check the network "
			   "and try again", c->host, why);
}

