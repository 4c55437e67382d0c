// SPDX-License-Identifier: MIT
/*
 * shadow_bench - nanoseconds per call of libgraft's shadow-variable API,
 * the cost a replacement function pays on the target's hot path.
 *
 * Every case runs RUNS times; in each run every thread makes CALLS calls
 * (PAIRS for alloc + free) between two clock_gettime(CLOCK_MONOTONIC)
 * readings.  A run of one thread gives one sample (elapsed / calls),
 * so a case yields RUNS * threads samples, of which the median and the
 * 99th percentile are printed.  Threads start each run together (a barrier), so with
 * more threads than CPUs a thread's samples include the time it waited
 * for a CPU: the last column, all threads' calls over the run's wall
 * time, is the figure to compare across thread counts.
 *
 * Keys are visited in a shuffled order, as a server touches its objects,
 * so that a large table is measured with its cache misses.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "graft.h"

#define RUNS 15
#define CALLS 50000
#define PAIRS 5000 /* alloc + free takes four sigprocmask calls */
#define KEYS 65536 /* a power of two, indexed with a mask */
#define MAX_THREADS 8
#define MAX_LIVE 100000
#define ID_LIVE 1
#define ID_PAIR 2

/* Stand-ins for the target's objects: only their addresses matter. */
struct object {
	char bytes[64];
};

enum operation { GET_HIT, GET_MISS, GET_OR_ALLOC_EXISTING, ALLOC_FREE };

static const char *const operation_names[] = {
	[GET_HIT] = "get (hit)",
	[GET_MISS] = "get (miss)",
	[GET_OR_ALLOC_EXISTING] = "get_or_alloc (existing)",
	[ALLOC_FREE] = "alloc + free pair",
};

struct bench_case {
	enum operation op;
	unsigned long live, calls;
	int threads;
	pthread_barrier_t start, done;
	double samples[RUNS * MAX_THREADS];
	struct timespec began[RUNS][MAX_THREADS], ended[RUNS][MAX_THREADS];
};

struct worker {
	struct bench_case *c;
	int index;
	struct object **keys;
};

static struct object live_objects[MAX_LIVE];
static struct object absent_objects[KEYS];
static struct object pair_objects[MAX_THREADS][KEYS];

static double ns_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e9 + (b->tv_nsec - a->tv_nsec);
}

static void shuffle(struct object **keys, unsigned int seed)
{
	size_t i;

	for (i = KEYS - 1; i > 0; i--) {
		size_t j = rand_r(&seed) % (i + 1);
		struct object *t = keys[i];

		keys[i] = keys[j];
		keys[j] = t;
	}
}

static struct object **make_keys(const struct bench_case *c, int index)
{
	struct object **keys = malloc(KEYS * sizeof(*keys));
	size_t i;

	if (!keys) {
		perror("shadow_bench: malloc");
		exit(1);
	}
	for (i = 0; i < KEYS; i++) {
		if (c->op == GET_MISS)
			keys[i] = &absent_objects[i];
		else if (c->op == ALLOC_FREE)
			keys[i] = &pair_objects[index][i];
		else
			keys[i] = &live_objects[(i * 7919 + index) % c->live];
	}
	shuffle(keys, 1 + index);
	return keys;
}

static void run_calls(enum operation op, unsigned long calls,
		      struct object **keys)
{
	unsigned long i;

	/* The calls cannot be dropped: the compiler cannot see into libgraft. */
	for (i = 0; i < calls; i++) {
		struct object *obj = keys[i & (KEYS - 1)];

		switch (op) {
		case GET_HIT:
		case GET_MISS:
			graft_shadow_get(obj, ID_LIVE);
			break;
		case GET_OR_ALLOC_EXISTING:
			graft_shadow_get_or_alloc(obj, ID_LIVE, 16, NULL, NULL);
			break;
		case ALLOC_FREE:
			graft_shadow_alloc(obj, ID_PAIR, 16, NULL, NULL);
			graft_shadow_free(obj, ID_PAIR, NULL);
			break;
		}
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct bench_case *c = w->c;
	int run;

	/* A first run, unrecorded, warms the caches and the allocator. */
	run_calls(c->op, c->calls, w->keys);
	for (run = 0; run < RUNS; run++) {
		pthread_barrier_wait(&c->start);
		clock_gettime(CLOCK_MONOTONIC, &c->began[run][w->index]);
		run_calls(c->op, c->calls, w->keys);
		clock_gettime(CLOCK_MONOTONIC, &c->ended[run][w->index]);
		c->samples[run * c->threads + w->index] =
			ns_between(&c->began[run][w->index],
				   &c->ended[run][w->index]) / c->calls;
		pthread_barrier_wait(&c->done);
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank, so that p99 of few samples is an observed value. */
static double percentile(double *sorted, int n, int p)
{
	int rank = (p * n + 99) / 100;

	return sorted[rank > 0 ? rank - 1 : 0];
}

/* Millions of calls per second by all threads together, median run. */
static double total_rate(const struct bench_case *c)
{
	double rates[RUNS];
	int run, t;

	for (run = 0; run < RUNS; run++) {
		struct timespec first = c->began[run][0], last = c->ended[run][0];

		for (t = 1; t < c->threads; t++) {
			if (ns_between(&c->began[run][t], &first) > 0)
				first = c->began[run][t];
			if (ns_between(&last, &c->ended[run][t]) > 0)
				last = c->ended[run][t];
		}
		rates[run] = 1e3 * c->threads * c->calls /
			     ns_between(&first, &last);
	}
	qsort(rates, RUNS, sizeof(rates[0]), by_value);
	return rates[RUNS / 2];
}

static void measure(enum operation op, unsigned long live, int threads)
{
	static struct bench_case c;
	struct worker workers[MAX_THREADS];
	pthread_t ids[MAX_THREADS];
	int i, n = RUNS * threads;

	c.op = op;
	c.live = live;
	c.threads = threads;
	c.calls = op == ALLOC_FREE ? PAIRS : CALLS;
	pthread_barrier_init(&c.start, NULL, threads);
	pthread_barrier_init(&c.done, NULL, threads);
	for (i = 0; i < threads; i++) {
		workers[i] = (struct worker){ &c, i, make_keys(&c, i) };
		if (pthread_create(&ids[i], NULL, work, &workers[i]) != 0) {
			fprintf(stderr, "shadow_bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(ids[i], NULL);
		free(workers[i].keys);
	}
	pthread_barrier_destroy(&c.start);
	pthread_barrier_destroy(&c.done);

	qsort(c.samples, n, sizeof(c.samples[0]), by_value);
	printf("%-24s %7lu %7d %10.1f %10.1f %12.1f\n", operation_names[op],
	       live, threads, percentile(c.samples, n, 50),
	       percentile(c.samples, n, 99), total_rate(&c));
}

/* Brings the table to exactly `live` variables of ID_LIVE. */
static void populate(unsigned long live)
{
	static unsigned long present;

	for (; present < live; present++) {
		if (!graft_shadow_alloc(&live_objects[present], ID_LIVE, 16,
					NULL, NULL)) {
			fprintf(stderr, "shadow_bench: alloc failed\n");
			exit(1);
		}
	}
}

int main(void)
{
	static const unsigned long live_counts[] = { 1, MAX_LIVE };
	static const int thread_counts[] = { 1, 2, MAX_THREADS };
	size_t l, t;
	int op;

	printf("shadow_bench: %ld CPUs online; per case and thread %d runs "
	       "of %d calls (%d alloc + free pairs)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), RUNS, CALLS, PAIRS);
	printf("(with more threads than CPUs, ns/call include waiting for a "
	       "CPU; compare Mcalls/s)\n\n");
	printf("%-24s %7s %7s %10s %10s %12s\n", "operation", "live",
	       "threads", "median ns", "p99 ns", "total Mcalls/s");
	for (l = 0; l < sizeof(live_counts) / sizeof(live_counts[0]); l++) {
		populate(live_counts[l]);
		for (op = GET_HIT; op <= ALLOC_FREE; op++)
			for (t = 0; t < sizeof(thread_counts) /
					    sizeof(thread_counts[0]); t++)
				measure(op, live_counts[l], thread_counts[t]);
	}
	return 0;
}
