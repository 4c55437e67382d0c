// SPDX-License-Identifier: MIT
/*
 * shadow_test - checks libgraft's shadow variables against the kernel's
 * klp_shadow_* semantics, single-threaded and under contention.
 * Exits nonzero on the first failure.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graft.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			exit(1);					\
		}							\
	} while (0)

enum { ID_A = 1, ID_B = 2, ID_PRIVATE, ID_COUNTER, ID_TOKEN };

struct point {
	long x, y;
};

static unsigned long ctor_calls, dtor_calls;
static void *dtor_last_obj, *dtor_last_data;

static int ctor_set_x(void *obj, void *shadow_data, void *ctor_data)
{
	struct point *p = shadow_data;

	(void)obj;
	__atomic_add_fetch(&ctor_calls, 1, __ATOMIC_RELAXED);
	CHECK(p->x == 0 && p->y == 0);
	p->x = *(long *)ctor_data;
	return 0;
}

static int ctor_fail(void *obj, void *shadow_data, void *ctor_data)
{
	(void)obj, (void)shadow_data, (void)ctor_data;
	return -12;
}

static void dtor_count(void *obj, void *shadow_data)
{
	__atomic_add_fetch(&dtor_calls, 1, __ATOMIC_RELAXED);
	dtor_last_obj = obj;
	dtor_last_data = shadow_data;
}

/* Runs fn with stderr captured; returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	static char buf[4096];
	int fds[2], saved;
	ssize_t n;

	CHECK(pipe(fds) == 0);
	fflush(stderr);
	saved = dup(2);
	CHECK(saved >= 0 && dup2(fds[1], 2) == 2);
	fn();
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static long parent;

static void alloc_duplicate(void)
{
	CHECK(graft_shadow_alloc(&parent, ID_A, sizeof(struct point),
				 NULL, NULL) == NULL);
}

static void alloc_failing_ctor(void)
{
	CHECK(graft_shadow_alloc(&parent, ID_B, 8, ctor_fail, NULL) == NULL);
}

static void test_single_thread(void)
{
	char expected[128];
	struct point *a, *b;
	long x = 7;

	CHECK(graft_runtime_abi_version == GRAFT_ABI_VERSION);
	CHECK(graft_shadow_get(&parent, ID_A) == NULL);

	a = graft_shadow_alloc(&parent, ID_A, sizeof(*a), ctor_set_x, &x);
	CHECK(a && a->x == 7 && a->y == 0 && ctor_calls == 1);
	CHECK(graft_shadow_get(&parent, ID_A) == a);
	CHECK(graft_shadow_get(&parent, ID_B) == NULL);
	CHECK(graft_shadow_get(&x, ID_A) == NULL);

	snprintf(expected, sizeof(expected),
		 "graft: shadow variable <%p, %x> already exists\n",
		 (void *)&parent, ID_A);
	CHECK(strcmp(capture_stderr(alloc_duplicate), expected) == 0);
	CHECK(graft_shadow_get(&parent, ID_A) == a);

	snprintf(expected, sizeof(expected),
		 "graft: failed to construct shadow variable <%p, %x> (-12)\n",
		 (void *)&parent, ID_B);
	CHECK(strcmp(capture_stderr(alloc_failing_ctor), expected) == 0);
	CHECK(graft_shadow_get(&parent, ID_B) == NULL);

	/* get_or_alloc: existing data without a ctor call, else a new one. */
	x = 9;
	CHECK(graft_shadow_get_or_alloc(&parent, ID_A, sizeof(*a), ctor_set_x,
					&x) == a);
	CHECK(ctor_calls == 1 && a->x == 7);
	b = graft_shadow_get_or_alloc(&parent, ID_B, sizeof(*b), ctor_set_x, &x);
	CHECK(b && b != a && b->x == 9 && ctor_calls == 2);
	CHECK(graft_shadow_get(&parent, ID_B) == b);

	/* A zero-sized shadow variable is a flag, so never NULL. */
	CHECK(graft_shadow_alloc(&x, ID_A, 0, NULL, NULL) != NULL);

	graft_shadow_free(&parent, ID_A, dtor_count);
	CHECK(dtor_calls == 1 && dtor_last_obj == &parent && dtor_last_data == a);
	CHECK(graft_shadow_get(&parent, ID_A) == NULL);
	CHECK(graft_shadow_get(&parent, ID_B) == b);
	graft_shadow_free(&parent, ID_A, dtor_count);
	CHECK(dtor_calls == 1);

	/* free_all takes every <*, id> and nothing else. */
	CHECK(graft_shadow_alloc(&x, ID_B, 4, NULL, NULL) != NULL);
	graft_shadow_free_all(ID_B, dtor_count);
	CHECK(dtor_calls == 3);
	CHECK(graft_shadow_get(&parent, ID_B) == NULL);
	CHECK(graft_shadow_get(&x, ID_B) == NULL);
	CHECK(graft_shadow_get(&x, ID_A) != NULL);
	graft_shadow_free(&x, ID_A, NULL);
	CHECK(graft_shadow_get(&x, ID_A) == NULL && dtor_calls == 3);

	/* A freed pair can be allocated again. */
	CHECK(graft_shadow_alloc(&parent, ID_A, 8, NULL, NULL) != NULL);
	graft_shadow_free(&parent, ID_A, NULL);
}

#define THREADS 8
#define ITERATIONS 20000
#define SHARED 16
#define PRIVATE 64

static long shared[SHARED];
static long token;
static unsigned long token_inside, token_claims, token_dtors;
static unsigned long private_dtors, counter_ctors, handler_misses;
static int workers_done, stop_signalling, release_workers;
static pthread_t workers[THREADS];

static int ctor_counter(void *obj, void *shadow_data, void *ctor_data)
{
	(void)obj, (void)shadow_data, (void)ctor_data;
	__atomic_add_fetch(&counter_ctors, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Only the thread whose allocation wins sees its own ctor run. */
static int ctor_claim(void *obj, void *shadow_data, void *ctor_data)
{
	(void)obj, (void)shadow_data;
	*(int *)ctor_data = 1;
	return 0;
}

static void dtor_private(void *obj, void *shadow_data)
{
	CHECK(*(long **)shadow_data == obj);
	__atomic_add_fetch(&private_dtors, 1, __ATOMIC_RELAXED);
}

static void dtor_token(void *obj, void *shadow_data)
{
	(void)obj, (void)shadow_data;
	__atomic_add_fetch(&token_dtors, 1, __ATOMIC_RELAXED);
}

/* The shared counters exist throughout, so a handler must always see them. */
static void on_signal(int sig)
{
	static unsigned int next;
	unsigned int i = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);

	(void)sig;
	if (!graft_shadow_get(&shared[i % SHARED], ID_COUNTER))
		__atomic_add_fetch(&handler_misses, 1, __ATOMIC_RELAXED);
}

/* The token is a shadow variable; whoever creates it holds it alone. */
static void hold_token(void)
{
	int claimed = 0;

	CHECK(graft_shadow_get_or_alloc(&token, ID_TOKEN, sizeof(int),
					ctor_claim, &claimed) != NULL);
	if (!claimed)
		return;
	CHECK(__atomic_fetch_add(&token_inside, 1, __ATOMIC_ACQ_REL) == 0);
	__atomic_add_fetch(&token_claims, 1, __ATOMIC_RELAXED);
	CHECK(__atomic_fetch_sub(&token_inside, 1, __ATOMIC_ACQ_REL) == 1);
	graft_shadow_free(&token, ID_TOKEN, dtor_token);
}

static void *worker(void *arg)
{
	long mine[PRIVATE];
	unsigned long i;

	(void)arg;
	for (i = 0; i < ITERATIONS; i++) {
		long *obj = &mine[i % PRIVATE];
		long **p;
		unsigned long *count;

		p = graft_shadow_alloc(obj, ID_PRIVATE, sizeof(*p), NULL, NULL);
		CHECK(p != NULL && *p == NULL);
		*p = obj;
		CHECK(graft_shadow_get(obj, ID_PRIVATE) == p);
		graft_shadow_free(obj, ID_PRIVATE, dtor_private);
		CHECK(graft_shadow_get(obj, ID_PRIVATE) == NULL);

		count = graft_shadow_get_or_alloc(&shared[i % SHARED], ID_COUNTER,
						  sizeof(*count), ctor_counter,
						  NULL);
		CHECK(count != NULL);
		__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);

		hold_token();
	}
	/* Stay alive: signalling a thread that has exited is undefined. */
	__atomic_add_fetch(&workers_done, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&release_workers, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

static void *signaller(void *arg)
{
	const struct timespec gap = { 0, 200000 };
	int i = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_signalling, __ATOMIC_ACQUIRE)) {
		pthread_kill(workers[i++ % THREADS], SIGUSR1);
		nanosleep(&gap, NULL);
	}
	return NULL;
}

static void test_threads(void)
{
	unsigned long total = 0;
	pthread_t sig_thread;
	int i;

	for (i = 0; i < SHARED; i++)
		CHECK(graft_shadow_get_or_alloc(&shared[i], ID_COUNTER,
						sizeof(unsigned long),
						ctor_counter, NULL));
	signal(SIGUSR1, on_signal);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&workers[i], NULL, worker, NULL) == 0);
	CHECK(pthread_create(&sig_thread, NULL, signaller, NULL) == 0);
	while (__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE) < THREADS)
		usleep(1000);
	__atomic_store_n(&stop_signalling, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(sig_thread, NULL) == 0);
	__atomic_store_n(&release_workers, 1, __ATOMIC_RELEASE);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(workers[i], NULL) == 0);

	CHECK(private_dtors == (unsigned long)THREADS * ITERATIONS);
	CHECK(counter_ctors == SHARED);
	CHECK(token_claims >= 1 && token_claims == token_dtors);
	CHECK(graft_shadow_get(&token, ID_TOKEN) == NULL);
	CHECK(handler_misses == 0);
	for (i = 0; i < SHARED; i++) {
		unsigned long *count = graft_shadow_get(&shared[i], ID_COUNTER);

		CHECK(count != NULL);
		total += *count;
	}
	CHECK(total == (unsigned long)THREADS * ITERATIONS);

	dtor_calls = 0;
	graft_shadow_free_all(ID_COUNTER, dtor_count);
	CHECK(dtor_calls == SHARED);
	for (i = 0; i < SHARED; i++)
		CHECK(graft_shadow_get(&shared[i], ID_COUNTER) == NULL);
}

int main(void)
{
	/* A deadlock must fail the test, not hang it. */
	alarm(120);
	test_single_thread();
	test_threads();
	printf("shadow_test: ok\n");
	return 0;
}
