// SPDX-License-Identifier: MIT
/*
 * call-span: how long it takes every worker of a running `hot` fixture to
 * finish the call of hot() it is in, the baseline of issue 15's goal 2
 * (docs/PERFORMANCE.md, item 25).  With more CPU-bound workers than CPUs a
 * worker finishes its call only when the scheduler comes back to it, so
 * this is a scheduling round, not the CPU time of one call.
 *
 *   call-span PID ADDRESS WORKERS SECONDS
 *
 * ADDRESS is the one `hot` prints ("finished-calls"): one unsigned long per
 * worker, the hot() calls it has returned from.  For SECONDS, it takes a
 * snapshot of them, reads them every 20 us until every worker's count has
 * moved, records that span, and begins again after 5 ms.  A worker that is
 * outside hot() at the snapshot (about a tenth of the time with 200 us in
 * and 20 us out) counts until it finishes its next call, so the figure is an
 * upper bound.  Prints: spans <n> median <ms> p90 <ms> max <ms>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define MAX_SPANS 100000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

static void read_counts(int mem, unsigned long address, unsigned long *counts, int workers)
{
	size_t size = sizeof(*counts) * (size_t)workers;

	if (pread(mem, counts, size, (off_t)address) != (ssize_t)size) {
		perror("call-span: reading the target");
		exit(1);
	}
}

static int ascending(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static unsigned long start[MAX_WORKERS], counts[MAX_WORKERS];
	static double spans[MAX_SPANS];
	char path[64];
	unsigned long address;
	int mem, workers, n = 0, i;
	double seconds, until;

	if (argc != 5 || (workers = atoi(argv[3])) < 1 || workers > MAX_WORKERS ||
	    (seconds = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: %s PID ADDRESS WORKERS(1-%d) SECONDS\n", argv[0], MAX_WORKERS);
		return 2;
	}
	address = strtoul(argv[2], NULL, 0);
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	if ((mem = open(path, O_RDONLY)) < 0) {
		perror(path);
		return 1;
	}

	until = now_ms() + seconds * 1e3;
	while (n < MAX_SPANS && now_ms() < until) {
		double from = now_ms();
		int moved;

		read_counts(mem, address, start, workers);
		do {
			nap_us(20);
			read_counts(mem, address, counts, workers);
			for (i = 0, moved = 0; i < workers; i++)
				moved += counts[i] != start[i];
		} while (moved < workers);
		spans[n++] = now_ms() - from;
		nap_us(5000);
	}
	if (n == 0)
		return 1;
	qsort(spans, (size_t)n, sizeof(spans[0]), ascending);
	printf("spans %d median %.2f p90 %.2f max %.2f\n", n, spans[n / 2], spans[n * 9 / 10], spans[n - 1]);
	return 0;
}
