// SPDX-License-Identifier: MIT
/*
 * loadcost: what graftd's watch costs the process it watches.  Prints
 * "ready <pid>" and answers each line on stdin:
 *   cycle <lib> <n>   dlopen + dlclose <lib> n times: "cycle <ns per pair>"
 *   signals <n>       raise(SIGUSR1) n times, handled: "signals <ns per signal>"
 * tick() is the function a patch replaces, so that graftd has a reason to
 * watch the process.  A second thread sleeps, as a server's idle workers
 * do: graft runs its calls on a thread blocked in a plain syscall, and the
 * main thread waits inside stdio, which holds a lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

__attribute__((noinline, noipa)) const char *tick(void)
{
	return "tick-old";
}

static void on_signal(int signal)
{
	(void)signal;
	handled++;
}

__attribute__((noreturn)) static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		sleep(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void cycle(const char *lib, long n)
{
	double start = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		void *handle = dlopen(lib, RTLD_NOW);

		if (!handle) {
			printf("cycle-failed %s\n", dlerror());
			return;
		}
		dlclose(handle);
	}
	printf("cycle %.0f\n", (now_ns() - start) / n);
}

static void signals(long n)
{
	double start = now_ns();
	long i;

	for (i = 0; i < n; i++)
		raise(SIGUSR1);
	printf("signals %.0f\n", (now_ns() - start) / n);
}

int main(void)
{
	char lib[256], line[512];
	pthread_t idler;
	long n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_signal);
	if (pthread_create(&idler, NULL, idle, NULL))
		return 1;
	printf("ready %d %s\n", (int)getpid(), tick());
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "cycle %255s %ld", lib, &n) == 2)
			cycle(lib, n);
		else if (sscanf(line, "signals %ld", &n) == 1)
			signals(n);
		else
			printf("unknown %s", line);
	}
	return 0;
}
