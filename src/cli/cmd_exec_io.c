/* dbroker exec: signals for the child, the child's output through the
 * masker, and its exit status. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_exec.h"
#include "banned.h"

#define READ_CHUNK (256u * 1024)
/* masked output is gathered and written once per read (a write per masked
 * region would cost a wake-up of the reader each) */
#define OUT_CAP (2 * READ_CHUNK)
/* the child's pipes: fewer, larger reads */
#define PIPE_SIZE (1024 * 1024)
/* held-back output is written after this long without new bytes */
#define FLUSH_AFTER_MS 30
/* reads in a row from a pipe that keeps coming back full (the other
 * pipe and the child's exit are looked at in between) */
#define PUMP_READS 8
/* while output streams, whether the child has exited is asked this often */
#define REAP_EVERY_MS 50

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t pending;
static volatile sig_atomic_t stop_sig;  /* the first terminating one dbroker passed on
					   or got with no child; not one the
					   terminal sent the child itself, which
					   the child may well survive */
static volatile sig_atomic_t cleaning;  /* exec_signals_cleanup() was called */

/* A signal the terminal sent (Ctrl-C, Ctrl-\, a resize, a hangup) reached
 * the child already: it is in the same foreground process group. Anything
 * sent to dbroker alone (kill, a supervisor) is passed on. With no child
 * (not started yet, or reaped) the first terminating one is remembered,
 * and interrupts what dbroker is doing. */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;

	(void)ctx;
	if (child_pid > 0) {
		if (!si || si->si_code != SI_KERNEL) {
			kill((pid_t)child_pid, sig);
			if (sig != SIGWINCH && !stop_sig)
				stop_sig = sig;
		}
	} else if (sig != SIGWINCH) {
		if (!pending)
			pending = sig;
		/* the first one during the revocation: its grace from now */
		if (cleaning && !stop_sig)
			dbr_interrupt_grace_restart();
		/* what runs with no child stops: resolving the credential or
		 * minting would otherwise go on until its timeout, deaf to
		 * Ctrl-C; the revocation after it has its grace */
		dbr_interrupt_by(sig);
		if (!stop_sig)
			stop_sig = sig;
	}
	errno = saved;
}

void exec_signals_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* one the caller ignored stays ignored, here and in the child */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!cli_caller_ignores(sigs[i]))
			sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* SIGCHLD ignored by the caller (it stays so across exec) would have
	 * the kernel reap the child at once: its status lost, waitid() ECHILD
	 * and every run exiting 1. The child then starts with it at its
	 * default too: posix_spawn cannot give it back ignored without a
	 * moment in which its exit would go unseen. */
	signal(SIGCHLD, SIG_DFL);
}

int exec_signals_child(pid_t pid)
{
	int early;

	child_pid = pid;
	/* from here the handler passes signals on and leaves pending alone */
	early = pending;
	pending = 0;
	return early;
}

int exec_signals_pending(void)
{
	return pending;
}

void exec_signals_cleanup(void)
{
	dbr_interrupt_grace(DBR_CHAIN_CLEANUP_GRACE_MS);
	cleaning = 1;
	if (stop_sig)
		dbr_interrupt_by(stop_sig);
}

/* ---- output ------------------------------------------------------------------------ */

struct pipe_out {
	int in;                        /* the child's end, -1 once closed */
	int out;                       /* ours: STDOUT_FILENO or STDERR_FILENO */
	struct dbr_mask_stream *ms;
	int broken;                    /* our end failed: drop what comes */
	int held;                      /* bytes may be held back in ms */
	char *buf;                     /* masked bytes not yet written */
	size_t len;
	long last_ms;                  /* when bytes last came (dbr_mono_ms) */
	int werr;                      /* why our end failed, unless EPIPE */
	long left;                     /* once the child has exited: the bytes
					  still to copy, what the pipe held
					  then (-1 before) */
};

static void emit(struct pipe_out *p, const char *buf, size_t len)
{
	if (p->broken || !len)
		return;
	if (dbr_write_all(p->out, buf, len)) {
		/* like a direct pipe: the child learns on its next write. A
		 * reader that left (EPIPE) is the child's to answer; any other
		 * failure (a full disk) cut the output and is reported. */
		p->broken = 1;
		if (errno != EPIPE)
			p->werr = errno ? errno : EIO;
		if (p->in >= 0) {
			close(p->in);
			p->in = -1;
		}
	}
}

static void drain(struct pipe_out *p)
{
	emit(p, p->buf, p->len);
	p->len = 0;
}

static int sink(void *arg, const char *buf, size_t len)
{
	struct pipe_out *p = arg;

	if (!p->buf) {
		emit(p, buf, len);
		return 0;
	}
	if (p->len + len > OUT_CAP)
		drain(p);
	if (len > OUT_CAP) {
		emit(p, buf, len);
		return 0;
	}
	memcpy(p->buf + p->len, buf, len);
	p->len += len;
	return 0;
}

static void pipe_close(struct pipe_out *p)
{
	if (p->ms) {
		dbr_mask_stream_pause(p->ms); /* masks a secret's start left at the end */
		dbr_mask_stream_flush(p->ms);
		dbr_mask_stream_free(p->ms);
		p->ms = NULL;
	}
	drain(p);
	free(p->buf);
	p->buf = NULL;
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
}

/* What the pipe holds, a chunk at a time, until a read comes back short
 * (the pipe was emptied: no poll in between while output streams); closes
 * at EOF, or once what it held when the child exited is copied. Output ending with a newline is shown at once, else after
 * FLUSH_AFTER_MS of quiet on this pipe: a pause of the masker
 * (dbr_mask_stream_pause), so a secret the child writes in pieces is
 * still masked. */
static void pipe_pump(struct pipe_out *p, char *buf)
{
	for (int i = 0; i < PUMP_READS && p->in >= 0; i++) {
		size_t want = p->left >= 0 && p->left < (long)READ_CHUNK ? (size_t)p->left
									  : READ_CHUNK;
		ssize_t n = want ? read(p->in, buf, want) : 0;

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			pipe_close(p);
			return;
		}
		p->last_ms = dbr_mono_ms();
		if (p->left > 0)
			p->left -= n;
		if (p->ms) {
			dbr_mask_stream_write(p->ms, buf, (size_t)n);
			if (buf[n - 1] == '\n') {
				dbr_mask_stream_pause(p->ms);
				p->held = 0;
			} else {
				p->held = 1;
			}
			drain(p);
		}
		if ((size_t)n < want)
			return;
	}
}

/* The child has exited: what is in its pipes now is still copied, and
 * nothing after it. A process it left behind holding them (a daemon)
 * could otherwise keep this loop, and a minted token, alive for as long
 * as it writes. */
static void pipes_at_exit(struct pipe_out p[2])
{
	for (int i = 0; i < 2; i++) {
		int queued = 0;

		if (p[i].in >= 0)
			p[i].left = ioctl(p[i].in, FIONREAD, &queued) == 0 && queued > 0 ? queued : 0;
	}
}

/* Milliseconds until the first held pipe is due to be flushed (0: now),
 * or dflt when nothing is held. Each pipe has its own quiet time: a prompt
 * on stdout is shown while stderr keeps streaming. */
static int flush_wait_ms(const struct pipe_out p[2], long now, int dflt)
{
	long wait = dflt;

	for (int i = 0; i < 2; i++) {
		long left = p[i].last_ms + FLUSH_AFTER_MS - now;

		if (p[i].held && p[i].in >= 0 && left < wait)
			wait = left > 0 ? left : 0;
	}
	return (int)wait;
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_FAILURE_GENERIC;
}

/* Its exit is seen first without reaping it: until it is reaped its pid
 * cannot be given to another process, so a signal passed on meanwhile
 * reaches no one else; signals stop being passed on before it is. */
static int reap(pid_t pid, int block, int *code)
{
	siginfo_t si;
	int st = 0, r;

	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
	while (r < 0 && errno == EINTR);
	if (r == 0 && si.si_pid == 0)
		return 0; /* still running */
	child_pid = 0;
	if (r < 0) {
		*code = EXIT_FAILURE_GENERIC;
		return 1;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*code = status_code(st);
	return 1;
}

/* The child's output was cut by a write error of ours (not a reader that
 * left): said once per stream, and not a success even if the child's
 * status is 0. A SIGPIPE death is ours too: emit() closed the child's pipe,
 * and whether the child wrote again before it ended is a race. */
static int output_lost(struct cli *cli, const struct pipe_out p[2], int code)
{
	for (int i = 0; i < 2; i++) {
		int rc;

		if (!p[i].werr)
			continue;
		rc = cli_failf(cli, DBR_E_IO, "cannot write the command's output to %s: %s",
			       i ? "stderr" : "stdout", strerror(p[i].werr));
		if (code == 0 || code == 128 + SIGPIPE)
			code = rc;
	}
	return code;
}

int exec_wait_child(struct cli *cli, pid_t pid, int out_fd, int err_fd)
{
	struct pipe_out p[2] = { { out_fd, STDOUT_FILENO, NULL, 0, 0, NULL, 0, 0, 0, -1 },
				 { err_fd, STDERR_FILENO, NULL, 0, 0, NULL, 0, 0, 0, -1 } };
	char *buf = malloc(READ_CHUNK);
	int code = 0, exited = 0, open_at_start = (out_fd >= 0) + (err_fd >= 0);
	long reaped = dbr_mono_ms();

	for (int i = 0; i < 2; i++) {
		if (p[i].in < 0)
			continue;
		fcntl(p[i].in, F_SETPIPE_SZ, PIPE_SIZE); /* best effort */
		/* ours alone (the child has the other end): a read of an empty
		 * pipe returns, so pipe_pump() can read until it is empty */
		fcntl(p[i].in, F_SETFL, fcntl(p[i].in, F_GETFL) | O_NONBLOCK);
		p[i].buf = malloc(OUT_CAP);
		/* out of memory: the output is dropped, never shown raw */
		if (!buf || dbr_mask_stream_new(cli->mask, sink, &p[i], &p[i].ms))
			p[i].ms = NULL;
	}
	while (p[0].in >= 0 || p[1].in >= 0) {
		struct pollfd fds[2];
		long now;
		int n;

		for (int i = 0; i < 2; i++) {
			fds[i].fd = p[i].in;
			fds[i].events = POLLIN;
			fds[i].revents = 0;
		}
		/* after the child has exited, only what is already in the pipes
		 * (a background grandchild may hold them open) */
		n = poll(fds, 2, exited ? 0 : flush_wait_ms(p, dbr_mono_ms(), 200));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (fds[i].revents && p[i].in >= 0)
				pipe_pump(&p[i], buf);
		now = dbr_mono_ms();
		for (int i = 0; i < 2; i++)
			if (p[i].held && p[i].ms && now - p[i].last_ms >= FLUSH_AFTER_MS) {
				dbr_mask_stream_pause(p[i].ms);
				drain(&p[i]);
				p[i].held = 0;
			}
		if (n == 0 && exited)
			break;
		/* a pipe at its end is a child about to exit, or gone */
		if (!exited && (n == 0 || (p[0].in >= 0) + (p[1].in >= 0) < open_at_start ||
				dbr_mono_ms() - reaped >= REAP_EVERY_MS)) {
			exited = reap(pid, 0, &code);
			reaped = dbr_mono_ms();
			if (exited)
				pipes_at_exit(p);
		}
	}
	pipe_close(&p[0]);
	pipe_close(&p[1]);
	if (buf)
		explicit_bzero(buf, READ_CHUNK); /* the child's raw output */
	free(buf);
	if (!exited)
		reap(pid, 1, &code);
	return output_lost(cli, p, code);
}
