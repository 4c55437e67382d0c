// SPDX-License-Identifier: MIT
/*
 * server - the patched process of the live benchmark: a TCP server on
 * 127.0.0.1 whose worker threads each accept a connection and answer its
 * requests.  A request is 8 bytes, a number of units; serve_request()
 * runs that many units, each a call of one of the LEAVES generated leaf
 * functions (every leaf once per LEAVES units), and answers 8 bytes.
 *
 * To measure pauses from inside, without relying on Graft's accounting,
 * every worker reads CLOCK_MONOTONIC after each unit:
 *  - its own gap, the time since its previous unit in the same request:
 *    how long this thread did not run (stopped, or waiting for a CPU);
 *  - the global gap, the time since any worker last finished a unit:
 *    how long the whole process made no progress at all.
 * A reporter thread prints, every REPORT_MS, the largest of each since
 * its previous line:
 *   gaps <monotonic ns> <largest own gap ns> <largest global gap ns> <units>
 *
 * Usage: server <workers> [port]; port 0 (the default) picks a free one.
 * Prints "ready <pid> <port>" once listening with every worker started.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define REPORT_MS 10
#define MAX_WORKERS 4096

/* Each worker's own figures, on its own cache line. */
struct worker {
	_Alignas(64) atomic_ulong largest_gap;
	unsigned long last_unit;
};

static struct worker workers[MAX_WORKERS];
static int worker_count;
static int listener;
static atomic_ulong last_progress;
static atomic_ulong largest_global_gap;
static atomic_ulong units_done;

static unsigned long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

static void raise_to(atomic_ulong *largest, unsigned long value)
{
	unsigned long seen = atomic_load_explicit(largest, memory_order_relaxed);

	while (value > seen &&
	       !atomic_compare_exchange_weak_explicit(largest, &seen, value,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* Not inlined: the patch of serve_request() calls it by name. */
__attribute__((noinline)) static void record_unit(struct worker *w)
{
	unsigned long now = now_ns();
	unsigned long previous = atomic_exchange_explicit(&last_progress, now,
							  memory_order_relaxed);

	if (w->last_unit && now - w->last_unit >
	    atomic_load_explicit(&w->largest_gap, memory_order_relaxed))
		atomic_store_explicit(&w->largest_gap, now - w->last_unit,
				      memory_order_relaxed);
	w->last_unit = now;
	/* Another worker may have stored a later time first: no gap then. */
	if (previous && now > previous)
		raise_to(&largest_global_gap, now - previous);
}

/*
 * The whole request: on the stack of a busy worker almost all the time,
 * so a patch of it needs each worker caught between two requests.
 */
PATCH_TARGET unsigned long serve_request(struct worker *w, unsigned long units)
{
	unsigned long x = units, i;

	w->last_unit = 0;
	for (i = 0; i < units; i++) {
		x = leaves[i % LEAVES](x);
		record_unit(w);
	}
	atomic_fetch_add_explicit(&units_done, units, memory_order_relaxed);
	return x;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		int fd = accept(listener, NULL, NULL);
		unsigned long units, answer;
		int one = 1;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (read_full(fd, &units, sizeof(units))) {
			answer = serve_request(w, units);
			if (write(fd, &answer, sizeof(answer)) != sizeof(answer))
				break;
		}
		close(fd);
	}
	return NULL;
}

static void report(void)
{
	struct timespec period = { 0, REPORT_MS * 1000000L };

	for (;;) {
		unsigned long own = 0;
		int i;

		nanosleep(&period, NULL);
		for (i = 0; i < worker_count; i++) {
			unsigned long gap = atomic_exchange(&workers[i].largest_gap, 0);

			if (gap > own)
				own = gap;
		}
		printf("gaps %lu %lu %lu %lu\n", now_ns(), own,
		       atomic_exchange(&largest_global_gap, 0),
		       atomic_load(&units_done));
	}
}

static int listen_on(int port)
{
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_port = htons((unsigned short)port) };
	socklen_t length = sizeof(address);
	int one = 1;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 ||
	    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(listener, (struct sockaddr *)&address, sizeof(address)) ||
	    listen(listener, 4096) ||
	    getsockname(listener, (struct sockaddr *)&address, &length)) {
		perror("server: listen");
		exit(1);
	}
	return ntohs(address.sin_port);
}

int main(int argc, char **argv)
{
	int port = argc > 2 ? atoi(argv[2]) : 0;
	pthread_attr_t attr;
	pthread_t thread;
	int i;

	worker_count = argc > 1 ? atoi(argv[1]) : 32;
	if (worker_count < 1 || worker_count > MAX_WORKERS) {
		fprintf(stderr, "usage: %s [workers (1-%d) [port]]\n", argv[0],
			MAX_WORKERS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	port = listen_on(port);
	/* Small stacks: a thousand workers need not reserve 8 MiB each. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < worker_count; i++)
		if (pthread_create(&thread, &attr, work, &workers[i])) {
			fprintf(stderr, "server: pthread_create failed\n");
			return 1;
		}
	printf("ready %d %d\n", (int)getpid(), port);
	report();
	return 0;
}
