/* spawnbench N PROGRAM [ARGS...]: posix_spawn and wait for PROGRAM N times;
 * prints the mean of one start (spawn, exec, run, exit, wait) in microseconds:
 * wall-clock time, then the CPU time (user + system) the children used, which
 * a machine busy with other work disturbs far less. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawnbench N PROGRAM [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < n; i++) {
		pid_t pid;
		int status;
		if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0 || waitpid(pid, &status, 0) != pid
		    || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "spawnbench: %s failed\n", argv[2]);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	struct rusage children;
	getrusage(RUSAGE_CHILDREN, &children);
	double wall = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / n;
	double cpu = (children.ru_utime.tv_sec + children.ru_stime.tv_sec) * 1e6 + children.ru_utime.tv_usec + children.ru_stime.tv_usec;
	printf("%.1f %.1f\n", wall, cpu / n);
	return 0;
}
