/* The service of `graft demo`: answers a "request" four times a second, with a bug. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long served;

/* Bug: counts one byte too few. noipa keeps it a real, separate function. */
__attribute__((noipa)) int parse_len(const char *buf, int n)
{
	return (int)strnlen(buf, n) - 1;
}

int main(void)
{
	const char *volatile message = "hello, graft";

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		served++;
		printf("request %lu: parse_len(\"%s\") = %d (expected %zu)\n",
		       served, message, parse_len(message, 64), strlen(message));
		usleep(250000);
	}
}
