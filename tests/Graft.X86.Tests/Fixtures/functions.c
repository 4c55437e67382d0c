/* Built by RealFunctionTests with gcc -O2 -fcf-protection=full, so that every function starts with endbr64. */
#include <stdlib.h>

int counter;

int zero(void)
{
	return 0;
}

int add(int a, int b)
{
	return a + b;
}

int next_id(void)
{
	return ++counter;
}

long sum(const long *values, long count)
{
	long total = 0;
	for (long i = 0; i < count; i++)
		total += values[i];
	return total;
}

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

void sort_ints(int *values, size_t count)
{
	qsort(values, count, sizeof *values, compare_ints);
}

unsigned collatz_steps(unsigned n)
{
	unsigned steps = 0;
	while (n > 1) {
		n = (n & 1) ? 3 * n + 1 : n / 2;
		steps++;
	}
	return steps;
}
