// SPDX-License-Identifier: MIT
/*
 * unwalkable: two threads blocked in read() on a pipe nobody writes, in
 * code no unwind table describes.
 *   A: in a copy of the loop below in an anonymous executable page
 *   B: in read_without_cfi, a function of this program without an FDE
 * Prints "ready <pid> <page address> <tid of A> <tid of B>" once both block.
 */
#include "fixture.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* read(fd, buf, 1) for ever, with raw syscalls and no .cfi_ directives. */
void read_without_cfi(int fd, char *buf);
__asm__(".pushsection .text\n"
	".globl read_without_cfi\n"
	".type read_without_cfi, @function\n"
	"read_without_cfi:\n"
	"	mov $1, %edx\n"
	"1:	xor %eax, %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	".size read_without_cfi, .-read_without_cfi\n"
	".popsection\n");

/* The same loop's bytes, for the anonymous page. */
static const unsigned char read_loop[] = {
	0xba, 0x01, 0x00, 0x00, 0x00,	/* mov $1, %edx */
	0x31, 0xc0,			/* xor %eax, %eax */
	0x0f, 0x05,			/* syscall */
	0xeb, 0xfa,			/* jmp back to the xor */
};

static int quiet_pipe[2];
static void (*anonymous_loop)(int fd, char *buf);
static pid_t tids[2];
static pthread_barrier_t started;

static void *in_anonymous_page(void *arg)
{
	char byte;

	(void)arg;
	tids[0] = gettid();
	pthread_barrier_wait(&started);
	anonymous_loop(quiet_pipe[0], &byte);
	return NULL;
}

static void *in_function_without_cfi(void *arg)
{
	char byte;

	(void)arg;
	tids[1] = gettid();
	pthread_barrier_wait(&started);
	read_without_cfi(quiet_pipe[0], &byte);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (page == MAP_FAILED || pipe(quiet_pipe))
		return 1;
	memcpy(page, read_loop, sizeof(read_loop));
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC))
		return 1;
	anonymous_loop = (void (*)(int, char *))page;
	if (pthread_barrier_init(&started, NULL, 3) ||
	    pthread_create(&a, NULL, in_anonymous_page, NULL) ||
	    pthread_create(&b, NULL, in_function_without_cfi, NULL))
		return 1;
	pthread_barrier_wait(&started);
	wait_blocked_in(tids[0], SYS_read);
	wait_blocked_in(tids[1], SYS_read);
	printf("ready %d %p %d %d\n", (int)getpid(), page, (int)tids[0],
	       (int)tids[1]);
	pthread_join(a, NULL);
	return 0;
}
