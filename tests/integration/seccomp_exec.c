/* seccomp_exec: run a command under a seccomp filter that refuses the
 * kernel keyring the way containers do, for tests/integration/test_kernel.py.
 *
 *   seccomp_exec MODE COMMAND [ARG...]
 *
 * MODE:
 *   EPERM       add_key, keyctl and request_key fail with EPERM (Docker's
 *               and Podman's default profiles)
 *   ENOSYS      the same calls fail with ENOSYS (a profile that hides them,
 *               or a kernel built without keyrings)
 *   EOPNOTSUPP  only keyctl(KEYCTL_GET_PERSISTENT) fails, with EOPNOTSUPP
 *               (a kernel built without persistent keyrings)
 *   LINK_EDQUOT:ID
 *               only keyctl(KEYCTL_LINK, key, ID) fails, with EDQUOT (the key
 *               quota full at the moment a key is linked into keyring ID)
 *
 * The filter is installed with PR_SET_NO_NEW_PRIVS, then COMMAND is
 * exec'ed: it and its children keep the filter. Exit 127 when the filter
 * cannot be installed or COMMAND cannot be run. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp_exec: add this architecture's AUDIT_ARCH"
#endif

#define NR (offsetof(struct seccomp_data, nr))
#define ARG0 (offsetof(struct seccomp_data, args[0]))
/* the low half of the third argument (little-endian) */
#define ARG2 (offsetof(struct seccomp_data, args[2]))
#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
/* another architecture's calls are killed; then load the call's number */
#define PROLOGUE                                                                  \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),  \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),                          \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),                      \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR)

int main(int argc, char **argv)
{
	struct sock_filter all[] = {
		PROLOGUE,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, RET_ERRNO(EPERM)), /* patched below */
	};
	struct sock_filter persistent[] = {
		PROLOGUE,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KEYCTL_GET_PERSISTENT, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, RET_ERRNO(EOPNOTSUPP)),
	};
	struct sock_filter linking[] = {
		PROLOGUE,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KEYCTL_LINK, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2), /* a key serial: 32 bits */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), /* patched below */
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, RET_ERRNO(EDQUOT)),
	};
	struct sock_fprog prog;

	if (argc < 3) {
		fprintf(stderr, "usage: seccomp_exec EPERM|ENOSYS|EOPNOTSUPP|LINK_EDQUOT:ID COMMAND [ARG...]\n");
		return 127;
	}
	if (strcmp(argv[1], "EPERM") == 0 || strcmp(argv[1], "ENOSYS") == 0) {
		all[8].k = RET_ERRNO(strcmp(argv[1], "EPERM") == 0 ? EPERM : ENOSYS);
		prog.filter = all;
		prog.len = sizeof(all) / sizeof(all[0]);
	} else if (strcmp(argv[1], "EOPNOTSUPP") == 0) {
		prog.filter = persistent;
		prog.len = sizeof(persistent) / sizeof(persistent[0]);
	} else if (strncmp(argv[1], "LINK_EDQUOT:", 12) == 0) {
		linking[8].k = (__u32)strtol(argv[1] + 12, NULL, 10);
		prog.filter = linking;
		prog.len = sizeof(linking) / sizeof(linking[0]);
	} else {
		fprintf(stderr, "seccomp_exec: unknown mode '%s'\n", argv[1]);
		return 127;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		fprintf(stderr, "seccomp_exec: cannot install the filter: %s\n", strerror(errno));
		return 127;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "seccomp_exec: cannot run '%s': %s\n", argv[2], strerror(errno));
	return 127;
}
