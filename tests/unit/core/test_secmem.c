/* Where secrets live when locked memory is scarce (core/secmem.c): an arena
 * sized to RLIMIT_MEMLOCK, else private mappings excluded from core dumps,
 * never the ordinary heap. Each case runs in a child without CAP_IPC_LOCK
 * (root would ignore the limit) and reports through its exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/errors.h"
#include "dbroker/secret.h"
#include "secret_internal.h"

static int run_in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Lose CAP_IPC_LOCK and set RLIMIT_MEMLOCK: what an ordinary user has. */
static int limit_memlock(rlim_t bytes)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct rlimit rl = { bytes, bytes };

	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	d[0].permitted &= ~(1u << CAP_IPC_LOCK);
	d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d) != 0)
		return -1;
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* The VmFlags of the mapping holding addr ("" if none): "dd" is
 * MADV_DONTDUMP, "lo" locked. */
static int mapping_flags(const void *addr, char *flags, size_t cap, int *heap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	uintptr_t a = (uintptr_t)addr;

	flags[0] = '\0';
	*heap = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			if (in)
				*heap = strstr(line, "[heap]") != NULL;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, cap, "%.*s", (int)(cap - 1), line + 8);
			break;
		}
	}
	fclose(f);
	return 0;
}

static const char tok[] = "dapi0123456789abcdef0123456789abcdef";

/* A secret's bytes: where are they? 0 when in a mapping excluded from core
 * dumps (and locked when want_locked), else a failure number. */
static int check_secret_home(int want_locked)
{
	struct dbr_secret *s = NULL;
	char flags[512];
	int heap;

	if (dbr_secret_new(tok, sizeof(tok) - 1, &s) != 0)
		return 20;
	if (mapping_flags(dbr_secret_bytes(s), flags, sizeof(flags), &heap) != 0)
		return 21;
	if (heap)
		return 22; /* the ordinary heap */
	if (!strstr(flags, " dd"))
		return 23; /* dumpable */
	if (want_locked && !strstr(flags, " lo"))
		return 24;
	dbr_secret_free(s);
	return 0;
}

static int child_small_limit(void)
{
	int locked = 0;

	if (limit_memlock(64 * 1024) != 0)
		return 10;
	if (dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 1, &locked, NULL) != 0)
		return 1; /* --strict would refuse: nothing locked */
	if (!locked || !dbr_secmem_locked())
		return 2;
	if (!strstr(dbr_secmem_describe(), "KiB arena, RLIMIT_MEMLOCK 64 KiB"))
		return 3;
	return check_secret_home(1);
}

static int child_no_limit_left(void)
{
	int locked = 1;

	if (limit_memlock(0) != 0)
		return 10;
	if (dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 0, &locked, NULL) != 0)
		return 1;
	if (locked || dbr_secmem_locked())
		return 2;
	if (!strstr(dbr_secmem_describe(), "NOT locked (RLIMIT_MEMLOCK 0 KiB") ||
	    !strstr(dbr_secmem_describe(), "excluded from core dumps"))
		return 3;
	return check_secret_home(0);
}

/* --strict: the limit was enough at start-up, then a library in the process
 * locked pages of its own before the first secret. The secret is refused,
 * not held in memory that could be paged out. */
static int child_strict_limit_taken(void)
{
	struct dbr_secret *s = (struct dbr_secret *)&s;
	size_t grab = 64 * 1024;
	void *other;
	int locked = 0, rc;

	if (limit_memlock(64 * 1024) != 0)
		return 10;
	if (dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 1, &locked, NULL) != 0 || !locked)
		return 1;
	other = mmap(NULL, grab, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* as a system call: a sanitizer's mlock() is a no-op */
	if (other == MAP_FAILED || syscall(SYS_mlock, other, grab) != 0)
		return 11;
	rc = dbr_secret_new(tok, sizeof(tok) - 1, &s);
	if (rc != DBR_E_SECMEM)
		return 2;
	if (s != NULL)
		return 3;
	/* once the other pages are let go, secrets are held (locked) again */
	if (syscall(SYS_munlock, other, grab) != 0)
		return 12;
	return check_secret_home(1);
}

/* --strict: secrets past a full arena get locked mappings while the limit
 * allows, and are refused after that; none is ever held unlocked. */
static int child_strict_arena_full(void)
{
	struct dbr_secret *held[64];
	size_t n = 0;
	int locked = 0, rc = 0, refused = 0;
	char flags[512];
	int heap;

	if (limit_memlock(64 * 1024) != 0)
		return 10;
	if (dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 1, &locked, NULL) != 0 || !locked)
		return 1;
	while (n < sizeof(held) / sizeof(held[0])) {
		rc = dbr_secret_alloc(DBR_SECRET_MAX, &held[n]);
		if (rc == DBR_E_SECMEM) {
			refused = 1;
			break;
		}
		if (rc != 0)
			return 2;
		if (mapping_flags(dbr_secret_bytes(held[n]), flags, sizeof(flags), &heap) != 0)
			return 3;
		if (heap || !strstr(flags, " lo") || !strstr(flags, " dd"))
			return 4; /* handed out, but not locked */
		n++;
	}
	if (!refused || n == 0)
		return 5; /* 64 KiB cannot hold 64 secrets of 8 KiB */
	if (strstr(dbr_secmem_describe(), "partly") || strstr(dbr_secmem_describe(), "NOT"))
		return 6;
	while (n)
		dbr_secret_free(held[--n]);
	return 0;
}

static void test_strict_refuses_when_the_limit_is_taken(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_strict_limit_taken), 0);
}

static void test_strict_never_holds_a_secret_unlocked(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_strict_arena_full), 0);
}

static void test_arena_sized_to_the_limit(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_small_limit), 0);
}

static void test_own_mappings_without_a_lock(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_no_limit_left), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_sized_to_the_limit),
		cmocka_unit_test(test_own_mappings_without_a_lock),
		cmocka_unit_test(test_strict_refuses_when_the_limit_is_taken),
		cmocka_unit_test(test_strict_never_holds_a_secret_unlocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
