// SPDX-License-Identifier: MIT
/*
 * callbench - the call-overhead micro-benchmark, run as the patched
 * process.  Its main thread calls callee() CALLS times, then reference()
 * (the same code, never patched) CALLS times, and prints the ns per call
 * of each:
 *   calls <monotonic ns> <callee ns/call> <reference ns/call>
 * Both loops run in the same thread within a few ms of each other, so
 * their ratio is the cost of the redirect whatever the machine's load.
 *
 * A second thread sits in hold() until the file named by the first
 * argument exists.  The patch replaces hold() too, so while that thread
 * is inside it a per-thread transition cannot finish: the benchmark
 * measures callee() during a transition that way, then creates the file
 * and lets `graft continue` complete it.
 *
 * Usage: callbench <release file>.  Prints "ready <pid>" first.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define CALLS 2000000UL

static const char *release_path;
static volatile unsigned long sink;

PATCH_TARGET unsigned long callee(unsigned long x)
{
	return x * 3 + 1;
}

PATCH_TARGET unsigned long reference(unsigned long x)
{
	return x * 3 + 1;
}

PATCH_TARGET void hold(const char *path)
{
	struct timespec pause = { 0, 5000000L };

	while (access(path, F_OK))
		nanosleep(&pause, NULL);
}

static void *holder(void *arg)
{
	struct timespec pause = { 1, 0 };

	(void)arg;
	hold(release_path);
	for (;;)
		nanosleep(&pause, NULL);
	return NULL;
}

static double ns_since(const struct timespec *from)
{
	struct timespec to;

	clock_gettime(CLOCK_MONOTONIC, &to);
	return (to.tv_sec - from->tv_sec) * 1e9 + (to.tv_nsec - from->tv_nsec);
}

static double ns_per_call(unsigned long (*f)(unsigned long))
{
	struct timespec from;
	unsigned long i, x = 1;

	clock_gettime(CLOCK_MONOTONIC, &from);
	for (i = 0; i < CALLS; i++)
		x = f(x);
	sink = x;
	return ns_since(&from) / CALLS;
}

int main(int argc, char **argv)
{
	pthread_t thread;
	struct timespec now;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <release file>\n", argv[0]);
		return 2;
	}
	release_path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&thread, NULL, holder, NULL))
		return 1;
	printf("ready %d\n", (int)getpid());
	for (;;) {
		double patched = ns_per_call(callee), unpatched = ns_per_call(reference);

		clock_gettime(CLOCK_MONOTONIC, &now);
		printf("calls %lu %.3f %.3f\n",
		       (unsigned long)now.tv_sec * 1000000000UL + (unsigned long)now.tv_nsec,
		       patched, unpatched);
	}
}
