// SPDX-License-Identifier: MIT
/*
 * idle: the target of the end-to-end comparison (issue 15, goal 4).  Four
 * workers each call answer() every 10 ms and sleep in between, so the
 * process is idle: a patcher finds every thread outside the function it
 * replaces.  answer() returns 1, its fix (idle-fix.patch for libcare,
 * idle_graft.c for graft) returns 2; each worker keeps its last result,
 * which says which version it runs.
 *
 * Usage: idle [workers], default 4.  Prints "ready <pid>" once every
 * worker has called answer(), then every 20 ms:
 *   tick <n> new=<workers whose last answer() returned 2> of=<workers>
 * (the same format as tests/fixtures/hot.c).
 *
 * Self-contained, since libcare builds the original and the patched
 * program from source (bench/peers/run builds it with libcare-cc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

static atomic_ulong last[MAX_WORKERS];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* noipa: a real function with its own entry that callers make no assumption about. */
__attribute__((noinline, noclone, noipa)) unsigned long answer(unsigned long n)
{
	return n + 1;
}

static void *worker(void *arg)
{
	atomic_ulong *mine = arg;

	for (;;) {
		atomic_store(mine, answer(0));
		sleep_ms(10);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int workers = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t thread;
	unsigned long n;
	int i, count;

	if (workers < 1 || workers > MAX_WORKERS) {
		fprintf(stderr, "usage: %s [workers (1-%d)]\n", argv[0], MAX_WORKERS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < workers; i++)
		if (pthread_create(&thread, NULL, worker, &last[i]))
			return 1;
	do {
		sleep_ms(1);
		for (i = 0, count = 0; i < workers; i++)
			count += atomic_load(&last[i]) != 0;
	} while (count < workers);
	printf("ready %d\n", (int)getpid());

	for (n = 0;; n++) {
		for (i = 0, count = 0; i < workers; i++)
			count += atomic_load(&last[i]) == 2;
		printf("tick %lu new=%d of=%d\n", n, count, workers);
		sleep_ms(20);
	}
}
