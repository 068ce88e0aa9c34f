/* Who is at the other end of a loopback TCP connection: the uid owning the
 * client's socket. Asked of the kernel's socket diagnostics (the
 * NETLINK_SOCK_DIAG lookup of one socket by its addresses, as `ss` does),
 * or read from /proc/net/tcp where that interface is missing. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proxy_internal.h"
#include "banned.h"

/* 0 found, -1 not found, -2 the interface is not there (try /proc) */
static int by_netlink(const struct sockaddr_in *peer, uint16_t port, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { 1, 0 };
	union {
		struct nlmsghdr h;
		char raw[1024];
	} ans;
	ssize_t n;
	int fd, rc = -1;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = AF_INET;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	/* the client's socket: its end is the peer, its remote this port */
	msg.req.id.idiag_sport = peer->sin_port;
	msg.req.id.idiag_src[0] = peer->sin_addr.s_addr;
	msg.req.id.idiag_dport = htons(port);
	msg.req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -2;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		close(fd);
		return -2;
	}
	n = recv(fd, &ans, sizeof(ans), 0);
	close(fd);
	if (n < 0 || !NLMSG_OK(&ans.h, (size_t)n))
		return -2;
	if (ans.h.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    ans.h.nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
		*uid = ((const struct inet_diag_msg *)NLMSG_DATA(&ans.h))->idiag_uid;
		rc = 0;
	} else if (ans.h.nlmsg_type == NLMSG_ERROR &&
		   ans.h.nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		int e = -((const struct nlmsgerr *)NLMSG_DATA(&ans.h))->error;

		/* no such socket (it closed already) is an answer */
		rc = e == ENOENT ? -1 : -2;
	}
	return rc;
}

static int by_proc(const struct sockaddr_in *peer, uint16_t port, uid_t *uid)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	char line[512];
	int rc = -1;

	if (!f)
		return -1;
	/* "sl local rem st tx:rx tr:when retrnsmt uid ...": addresses as the
	 * kernel holds them (%08X of the raw word), ports in host order */
	while (rc && fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp, u;

		if (sscanf(line, " %*u: %8X:%4X %8X:%4X %*X %*X:%*X %*X:%*X %*X %u", &la, &lp, &ra,
			   &rp, &u) == 5 && la == peer->sin_addr.s_addr &&
		    lp == ntohs(peer->sin_port) && ra == htonl(INADDR_LOOPBACK) && rp == port) {
			*uid = (uid_t)u;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

int proxy_peer_uid(const struct sockaddr_in *peer, uint16_t port, uid_t *uid)
{
	int rc = by_netlink(peer, port, uid);

	return rc == -2 ? by_proc(peer, port, uid) : rc;
}
