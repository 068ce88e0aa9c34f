/* The agent's server loop (agent_server.h): accept, check the peer, one
 * thread per connection; signals and TTLs handled on the loop's thread. */
#include "agent_server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_proto.h"
#include "dbroker/runtime.h"
#include "banned.h"

#define THREAD_STACK (256u * 1024)
/* How often an idle agent checks that its socket file is still there. */
#define SOCKET_CHECK_MS 5000
/* How long a stopping agent waits for calls in flight. */
#define DRAIN_MS 5000L

static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal, forget_signal;

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGUSR1) {
		forget_signal = 1;
	} else {
		stop_signal = sig;
		dbr_interrupt(); /* calls in flight stop retrying */
	}
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0)
		(void)0; /* full: the loop wakes anyway */
	errno = saved;
}

void agent_server_wake(struct agent_server *srv)
{
	(void)srv;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0)
		(void)0;
}

void agent_server_remove_socket(struct agent_server *srv)
{
	struct stat st;

	if (!srv->socket_owned)
		return;
	srv->socket_owned = 0;
	/* still the file bound at start: a socket that another agent bound
	 * there since (this one's was removed by hand) is that agent's */
	if (lstat(srv->opt->socket_path, &st) == 0 && st.st_dev == srv->socket_dev &&
	    st.st_ino == srv->socket_ino)
		unlink(srv->opt->socket_path);
}

/* Is the socket file the agent was started on gone, or another's now?
 * Then no client can reach this agent any more (as gpg-agent, it stops). */
static int socket_lost(struct agent_server *srv)
{
	struct stat st;
	int lost;

	pthread_mutex_lock(&srv->mu);
	lost = srv->socket_owned &&
	       (lstat(srv->opt->socket_path, &st) != 0 || st.st_dev != srv->socket_dev ||
		st.st_ino != srv->socket_ino);
	if (lost)
		srv->socket_owned = 0; /* not ours to remove any more */
	pthread_mutex_unlock(&srv->mu);
	return lost;
}

/* Note the socket file to remove at stop (remove_socket). */
static void own_socket(struct agent_server *srv)
{
	struct stat st;

	if (srv->opt->remove_socket && srv->opt->socket_path &&
	    lstat(srv->opt->socket_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		srv->socket_owned = 1;
		srv->socket_dev = st.st_dev;
		srv->socket_ino = st.st_ino;
	}
}

static const int handled[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1 };
#define N_HANDLED (sizeof(handled) / sizeof(handled[0]))

/* The handlers, then the signals unblocked (a caller may block them until
 * now so that none is lost while the agent starts: a pending one is
 * handled here); one that interrupted the process before (dbr_interrupt_by)
 * stops the agent at once. */
static void signals_install(struct sigaction *saved, struct sigaction *saved_pipe,
			    sigset_t *saved_mask)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < N_HANDLED; i++) {
		sigaction(handled[i], &sa, &saved[i]);
		sigaddset(&set, handled[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, saved_pipe);
	if (dbr_interrupt_signal() > 0)
		stop_signal = dbr_interrupt_signal();
	pthread_sigmask(SIG_UNBLOCK, &set, saved_mask);
}

static void signals_restore(const struct sigaction *saved, const struct sigaction *saved_pipe,
			    const sigset_t *saved_mask)
{
	pthread_sigmask(SIG_SETMASK, saved_mask, NULL);
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &saved[i], NULL);
	sigaction(SIGPIPE, saved_pipe, NULL);
}

struct conn_start {
	struct agent_server *srv;
	int fd;
	pid_t pid;
};

/* Open connections, so a stopping agent can shut them. */
static int conn_fds[1024];

static void *conn_main(void *arg)
{
	struct conn_start cs = *(struct conn_start *)arg;
	struct agent_server *srv = cs.srv;
	int idle;

	free(arg);
	agent_conn_serve(srv, cs.fd, cs.pid);
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < sizeof(conn_fds) / sizeof(conn_fds[0]); i++)
		if (conn_fds[i] == cs.fd + 1) {
			conn_fds[i] = 0;
			break;
		}
	idle = --srv->active == 0;
	pthread_mutex_unlock(&srv->mu);
	/* after a burst of clients, give their buffers back to the system */
	if (idle)
		malloc_trim(0);
	return NULL;
}

static int max_clients(const struct dbr_agent_options *o)
{
	int n = o->max_clients > 0 ? o->max_clients : DBR_AGENT_DEFAULT_MAX_CLIENTS;

	return n > (int)(sizeof(conn_fds) / sizeof(conn_fds[0])) ?
		       (int)(sizeof(conn_fds) / sizeof(conn_fds[0])) : n;
}

/* Tell a peer why its connection is closed (it learns nothing else), and
 * close it. */
static void turn_away(int fd, int rc, const char *msg)
{
	struct agent_enc e;
	struct dbr_err err = DBR_ERR_INIT;

	agent_enc_begin(&e, AGENT_R_ERROR);
	agent_enc_int(&e, AGENT_T_RC, rc);
	agent_enc_text(&e, AGENT_T_MESSAGE, msg);
	agent_send(fd, &e, &err);
	agent_enc_release(&e);
	close(fd);
}

/* Accept one connection: only the agent's own uid is served. Returns 1
 * when out of descriptors with none to spare (the loop pauses a while). */
static int accept_one(struct agent_server *srv, int lfd)
{
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	struct conn_start *cs;
	struct rlimit nofile;
	pthread_attr_t attr;
	pthread_t t;
	char msg[256];
	int fd, ok, no_fd = 0;

	if (srv->spare_fd < 0)
		srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && srv->spare_fd >= 0) {
		/* the spare makes room to take the connection off the queue
		 * and say why: else poll() wakes for it again at once */
		close(srv->spare_fd);
		srv->spare_fd = -1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		no_fd = 1;
	}
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || plen != sizeof(peer)) {
		close(fd);
		return 0;
	}
	if (peer.uid != getuid()) {
		pthread_mutex_lock(&srv->mu);
		srv->refused++;
		pthread_mutex_unlock(&srv->mu);
		dbr_log_warn(srv->store.log, "agent: refused a connection from uid %lu (pid %ld): "
			     "only uid %lu is served", (unsigned long)peer.uid, (long)peer.pid,
			     (unsigned long)getuid());
		snprintf(msg, sizeof(msg), "this agent serves uid %lu only, not uid %lu",
			 (unsigned long)getuid(), (unsigned long)peer.uid);
		turn_away(fd, DBR_E_AUTH, msg);
		return 0;
	}
	if (no_fd) {
		if (getrlimit(RLIMIT_NOFILE, &nofile) != 0)
			nofile.rlim_cur = 0;
		dbr_log_warn(srv->store.log, "agent: out of file descriptors (it may open %llu): "
			     "connection of pid %ld closed", (unsigned long long)nofile.rlim_cur,
			     (long)peer.pid);
		snprintf(msg, sizeof(msg), "the agent has no file descriptor left for another "
			 "connection (it may open %llu): try again when fewer commands run, or run "
			 "this one with --no-agent; 'ulimit -n' before 'agent start' raises the "
			 "limit", (unsigned long long)nofile.rlim_cur);
		turn_away(fd, DBR_E_AGENT, msg);
		srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return 0;
	}
	pthread_mutex_lock(&srv->mu);
	ok = srv->active < (unsigned)max_clients(srv->opt);
	pthread_mutex_unlock(&srv->mu);
	cs = ok ? malloc(sizeof(*cs)) : NULL;
	if (!cs) {
		dbr_log_warn(srv->store.log, "agent: %s: connection of pid %ld closed",
			     ok ? "out of memory" : "too many clients at once", (long)peer.pid);
		if (ok)
			snprintf(msg, sizeof(msg), "the agent is out of memory: try again, or run "
				 "this command with --no-agent");
		else
			snprintf(msg, sizeof(msg), "the agent serves at most %d connections at once "
				 "and has that many: try again when fewer commands run, or run this "
				 "one with --no-agent", max_clients(srv->opt));
		turn_away(fd, ok ? DBR_E_NOMEM : DBR_E_AGENT, msg);
		return 0;
	}
	cs->srv = srv;
	cs->fd = fd;
	cs->pid = peer.pid;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&srv->mu);
	srv->active++;
	srv->served++;
	for (size_t i = 0; i < sizeof(conn_fds) / sizeof(conn_fds[0]); i++)
		if (!conn_fds[i]) {
			conn_fds[i] = fd + 1;
			break;
		}
	if (pthread_create(&t, &attr, conn_main, cs) != 0) {
		for (size_t i = 0; i < sizeof(conn_fds) / sizeof(conn_fds[0]); i++)
			if (conn_fds[i] == fd + 1)
				conn_fds[i] = 0;
		srv->active--;
		free(cs);
		close(fd);
	}
	pthread_mutex_unlock(&srv->mu);
	pthread_attr_destroy(&attr);
	return 0;
}

static void shut_all(struct agent_server *srv, int how)
{
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < sizeof(conn_fds) / sizeof(conn_fds[0]); i++)
		if (conn_fds[i])
			shutdown(conn_fds[i] - 1, how);
	pthread_mutex_unlock(&srv->mu);
}

/* Connection threads still running after up to ms. */
static unsigned wait_threads(struct agent_server *srv, long ms)
{
	long until = dbr_mono_ms() + ms;
	unsigned left;

	for (;;) {
		pthread_mutex_lock(&srv->mu);
		left = srv->active;
		pthread_mutex_unlock(&srv->mu);
		if (!left || dbr_mono_ms() >= until)
			return left;
		/* not dbr_sleep_ms: after a stop signal it returns at once */
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

/* Close every connection: first their reading side, so one waiting for a
 * request ends at once while one inside a call still writes its answer
 * (its client gets it, not "may have acted"); after DRAIN_MS the rest
 * whole. Returns the threads still running. */
static unsigned drain(struct agent_server *srv)
{
	unsigned left;

	shut_all(srv, SHUT_RD);
	left = wait_threads(srv, DRAIN_MS);
	if (left) {
		shut_all(srv, SHUT_RDWR);
		left = wait_threads(srv, 1000);
	}
	return left;
}

static void serve_loop(struct agent_server *srv, int lfd)
{
	for (;;) {
		struct pollfd p[2] = { { lfd, POLLIN, 0 }, { wake_pipe[0], POLLIN, 0 } };
		long next = agent_store_expire(&srv->store);
		char drainbuf[64];
		int stop;

		if (poll(p, 2, next < 0 || next > SOCKET_CHECK_MS ? SOCKET_CHECK_MS
								 : (int)next + 1) < 0 &&
		    errno != EINTR)
			break;
		if (socket_lost(srv)) {
			dbr_log_info(srv->store.log, "agent: the socket '%s' was removed or "
				     "replaced: forgetting everything and stopping",
				     srv->opt->socket_path);
			break;
		}
		while (read(wake_pipe[0], drainbuf, sizeof(drainbuf)) > 0)
			;
		if (forget_signal) {
			forget_signal = 0;
			dbr_log_info(srv->store.log, "agent: SIGUSR1: forgetting every credential");
			agent_store_forget(&srv->store, NULL);
		}
		pthread_mutex_lock(&srv->mu);
		stop = srv->stop;
		pthread_mutex_unlock(&srv->mu);
		if (stop_signal || stop)
			break;
		if ((p[0].revents & POLLIN) && accept_one(srv, lfd))
			dbr_sleep_ms(100); /* until a descriptor is free again */
	}
}

int dbr_agent_run(const struct dbr_agent_options *opt_in, struct dbr_err *err)
{
	struct dbr_agent_options opt;
	struct agent_server *srv;
	struct sigaction saved[N_HANDLED], saved_pipe;
	sigset_t saved_mask;
	unsigned left;
	int rc;

	dbr_err_clear(err);
	if (!opt_in || opt_in->struct_size < sizeof(opt_in->struct_size))
		return dbr_err_set(err, DBR_E_INVAL, "no agent options");
	memset(&opt, 0, sizeof(opt));
	memcpy(&opt, opt_in, opt_in->struct_size < sizeof(opt) ? opt_in->struct_size : sizeof(opt));
	if (opt.struct_size < sizeof(opt)) /* fields an older caller lacks */
		opt.confirm_fd = opt.log_fd = -1;
	if (opt.listen_fd < 0)
		return dbr_err_set(err, DBR_E_INVAL, "the agent has no socket to listen on");
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	srv->opt = &opt;
	srv->spare_fd = -1;
	if ((rc = agent_store_init(&srv->store, &opt, err))) {
		free(srv);
		return rc;
	}
	pthread_mutex_init(&srv->mu, NULL);
	pthread_mutex_init(&srv->confirm_mu, NULL);
	srv->started_wall = (long long)time(NULL);
	own_socket(srv);
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot create a pipe: %s", strerror(errno));
		agent_store_release(&srv->store);
		free(srv);
		return rc;
	}
	fcntl(opt.listen_fd, F_SETFD, FD_CLOEXEC);
	fcntl(opt.listen_fd, F_SETFL, fcntl(opt.listen_fd, F_GETFL) | O_NONBLOCK);
	stop_signal = forget_signal = 0;
	signals_install(saved, &saved_pipe, &saved_mask);
	dbr_log_info(srv->store.log, "agent: listening on '%s' (pid %ld)",
		     opt.socket_path ? opt.socket_path : "(socket handed over)", (long)getpid());
	serve_loop(srv, opt.listen_fd);
	/* the file first: until the socket closes, a new agent's start finds
	 * this one listening and does not bind in its place */
	pthread_mutex_lock(&srv->mu);
	agent_server_remove_socket(srv);
	pthread_mutex_unlock(&srv->mu);
	close(opt.listen_fd);
	if (stop_signal)
		dbr_log_info(srv->store.log, "agent: signal %d: forgetting everything and stopping",
			     (int)stop_signal);
	agent_store_forget(&srv->store, NULL);
	left = drain(srv);
	signals_restore(saved, &saved_pipe, &saved_mask);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	if (left) {
		/* threads still inside a call use the store: the process is
		 * about to exit, which takes their memory with it */
		dbr_log_warn(srv->store.log, "agent: %u call%s still in flight at exit", left,
			     left == 1 ? "" : "s");
		return 0;
	}
	agent_store_release(&srv->store);
	pthread_mutex_destroy(&srv->mu);
	pthread_mutex_destroy(&srv->confirm_mu);
	free(srv);
	return 0;
}
