// SPDX-License-Identifier: MIT
/*
 * loadgen - the second process of the live benchmark: keeps the server
 * busy and records what each request cost its client.  Each of its
 * connections is a thread that sends a request, waits for the answer and
 * sends the next one at once (a closed loop: as much load as the server
 * takes).  It runs until SIGINT or SIGTERM, then writes every request as
 *   <monotonic ns when sent> <latency ns>
 * to the output file.
 *
 * Usage: loadgen <port> <connections> <units per request> <output file>
 * Prints "ready" once every connection is open.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sample {
	unsigned long sent, latency;
};

struct connection {
	int fd;
	pthread_t thread;
	struct sample *samples;
	size_t count, capacity;
};

static atomic_int stopping;
static unsigned long units;

static unsigned long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

static int connect_to(int port)
{
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_port = htons((unsigned short)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address))) {
		perror("loadgen: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void keep(struct connection *c, unsigned long sent, unsigned long latency)
{
	if (c->count == c->capacity) {
		c->capacity = c->capacity ? 2 * c->capacity : 4096;
		c->samples = realloc(c->samples, c->capacity * sizeof(*c->samples));
		if (!c->samples) {
			perror("loadgen: realloc");
			exit(1);
		}
	}
	c->samples[c->count++] = (struct sample){ sent, latency };
}

static void *drive(void *arg)
{
	struct connection *c = arg;

	while (!atomic_load(&stopping)) {
		unsigned long sent = now_ns(), answer;

		if (write(c->fd, &units, sizeof(units)) != sizeof(units) ||
		    recv(c->fd, &answer, sizeof(answer), MSG_WAITALL) != sizeof(answer))
			break;
		keep(c, sent, now_ns() - sent);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct connection *connections;
	sigset_t stop;
	int count, i, signal;
	FILE *out;

	if (argc != 5) {
		fprintf(stderr, "usage: %s <port> <connections> <units> <output>\n", argv[0]);
		return 2;
	}
	count = atoi(argv[2]);
	units = strtoul(argv[3], NULL, 10);
	connections = calloc((size_t)count, sizeof(*connections));
	if (count < 1 || !connections)
		return 2;
	/* Blocked in every thread, taken by sigwait in this one. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < count; i++)
		connections[i].fd = connect_to(atoi(argv[1]));
	for (i = 0; i < count; i++)
		if (pthread_create(&connections[i].thread, NULL, drive, &connections[i]))
			return 1;
	printf("ready\n");
	sigwait(&stop, &signal);
	atomic_store(&stopping, 1);
	out = fopen(argv[4], "w");
	if (!out) {
		perror("loadgen: output");
		return 1;
	}
	for (i = 0; i < count; i++) {
		size_t j;

		pthread_join(connections[i].thread, NULL);
		for (j = 0; j < connections[i].count; j++)
			fprintf(out, "%lu %lu\n", connections[i].samples[j].sent,
				connections[i].samples[j].latency);
	}
	return fclose(out) ? 1 : 0;
}
