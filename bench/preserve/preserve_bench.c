// SPDX-License-Identifier: MIT
/*
 * preserve_bench: ns per call of a replacement reached straight, and through
 * graft.h's register-preserving entry (graft_preserve) as graft lays out its
 * slot stub: putting back the general registers only, and also saving and
 * restoring the vector and mask registers with XSAVE (the components of this
 * machine).  The replacement returns its argument plus one; the loop calls
 * it through a function pointer, as the entry jump would.
 */
#include <graft.h>

#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define CALLS 20000000L
#define RUNS 7

__attribute__((noinline)) static long replacement(long x)
{
	return x + 1;
}

static int f(int x) { return x; }
static struct graft_func funcs[] = { { .old_name = "f", .new_func = f }, { } };
static struct graft_object objs[] = { { .name = NULL, .funcs = funcs }, { } };
static struct graft_patch patch = { .name = "preserve-bench", .objs = objs };
GRAFT_PATCH(patch);

static void vector_state(uint64_t *mask, uint64_t *size, uint64_t *width)
{
	unsigned int a, b, c, d;
	uint64_t end = 576;

	__cpuid_count(0xd, 0, a, b, c, d);
	*mask = a & 0xe6;
	for (int component = 2; component < 8; component++) {
		if (!(*mask & (1u << component)))
			continue;
		__cpuid_count(0xd, component, a, b, c, d);
		if (b + a > end)
			end = b + a;
	}
	*size = (end + 63) & ~63ull;
	*width = (*mask & 0xe0) ? 4 : (*mask & 4) ? 2 : 0;
}

/* The slot stub as graft writes it: push [rip+0xa]; jmp [rip+0xc]; the words (see graft.h). */
static long (*stub(int vectors))(long)
{
	uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t words[6], mask, size, width;

	if (page == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	vector_state(&mask, &size, &width);
	memcpy(page, "\xff\x35\x0a\x00\x00\x00\xff\x25\x0c\x00\x00\x00\xcc\xcc\xcc\xcc", 16);
	words[0] = (uint64_t)(page + 0x20);
	words[1] = (uint64_t)graft_preserve_entry;
	words[2] = (uint64_t)replacement;
	words[3] = vectors ? mask : 0;
	words[4] = vectors ? size : 0;
	/* rcx rdx rsi rdi r8-r11 put back (the original returns in rax); pass xmm0/xmm1 back */
	words[5] = 0xfc6 | ((width | 1) << 16);
	memcpy(page + 0x10, words, sizeof(words));
	return (long (*)(long))page;
}

static double median(double *values)
{
	for (int i = 0; i < RUNS; i++)
		for (int j = i + 1; j < RUNS; j++)
			if (values[j] < values[i]) {
				double t = values[i];
				values[i] = values[j];
				values[j] = t;
			}
	return values[RUNS / 2];
}

static double measure(long (*volatile call)(long))
{
	double ns[RUNS];

	for (int run = 0; run < RUNS; run++) {
		struct timespec a, b;
		long sum = 0;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < CALLS; i++)
			sum = call(sum);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (sum != CALLS)
			abort();
		ns[run] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / CALLS;
	}
	return median(ns);
}

int main(void)
{
	uint64_t mask, size, width;

	vector_state(&mask, &size, &width);
	printf("XSAVE components 0x%llx, area %llu bytes; %ld calls per run, median of %d runs\n",
	       (unsigned long long)mask, (unsigned long long)size, CALLS, RUNS);
	printf("straight:                        %.2f ns/call\n", measure(replacement));
	printf("graft_preserve, general only:    %.2f ns/call\n", measure(stub(0)));
	printf("graft_preserve, general+vectors: %.2f ns/call\n", measure(stub(1)));
	return 0;
}
