// The floor of the live benchmark's floor step (bench/live/driver/floor.py).
// Copied unchanged below this comment from the team's tool /work/shared/tools/stop-floor.c
// (ours, outside the repository), so that a fresh checkout and CI can build it.
// Built with gcc -O2 only, as its header says, not the benchmark's -Wall -Werror.

// stop-floor: the least a per-thread switch can cost here, done with the fewest syscalls.
// Build: gcc -O2 -o stop-floor stop-floor.c   Run as root against a process nobody traces.
// usage: stop-floor <pid> <reps> [mode]
//   modes: vm    PTRACE_INTERRUPT, waitpid, GETREGS, process_vm_readv 4 KiB at rsp, 1-byte pwrite (table), CONT
//          pread same but 14 preads of 8 bytes from /proc/pid/mem instead of one 4 KiB read
//          nostop  /proc/<pid>/task/<tid>/syscall + process_vm_readv 4 KiB + schedstat/ctxt before/after (no ptrace stop)
//          batch   interrupt every thread, wait all, GETREGS+4 KiB each, CONT all (stop-world style), per round
// It seizes every thread of <pid> (timing the seize), runs <reps> rounds over all threads, and
// prints per-phase medians/p99 in microseconds. The table write goes to a scratch byte on the
// thread's own stack, below the red zone (harmless: unused memory below rsp-128 is dead).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
static void report(const char *name, double *v, int n)
{
	if (!n) return;
	qsort(v, n, sizeof *v, cmp);
	double sum = 0; for (int i = 0; i < n; i++) sum += v[i];
	printf("  %-28s n=%-6d med=%8.2f p90=%8.2f p99=%8.2f max=%9.2f mean=%8.2f us\n", name, n, v[n / 2], v[(int)(n * 0.9)], v[(int)(n * 0.99)], v[n - 1], sum / n);
}

static int tids[65536], ntids;
static void list_tasks(int pid)
{
	char path[64]; snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path); struct dirent *e; ntids = 0;
	while ((e = readdir(d))) if (e->d_name[0] != '.') tids[ntids++] = atoi(e->d_name);
	closedir(d);
}

static ssize_t vmread(int pid, unsigned long addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };
	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

static int read_file(const char *path, char *buf, int len)
{
	int fd = open(path, O_RDONLY); if (fd < 0) return -1;
	int n = read(fd, buf, len - 1); close(fd); if (n < 0) n = 0; buf[n] = 0; return n;
}

static void wait_stop(int tid)
{
	int st;
	for (;;) {
		if (waitpid(tid, &st, __WALL) != tid) { perror("waitpid"); exit(1); }
		if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP) return;
		// a signal-delivery-stop: pass it on and keep waiting for the interrupt
		ptrace(PTRACE_CONT, tid, 0, WIFSTOPPED(st) ? WSTOPSIG(st) : 0);
	}
}

int main(int argc, char **argv)
{
	int pid = atoi(argv[1]), reps = argc > 2 ? atoi(argv[2]) : 100;
	const char *mode = argc > 3 ? argv[3] : "vm";
	static char stack[4096], path[128], buf[4096];
	list_tasks(pid);
	int n = ntids, total = reps * n;
	double *ph[8]; for (int i = 0; i < 8; i++) ph[i] = calloc(total + 8, sizeof(double));
	int k = 0;
	if (!strcmp(mode, "nostop2")) {
		// As nostop, with the three /proc files opened once per thread and re-read with pread(0).
		int *fs = malloc(n * sizeof(int)), *fy = malloc(n * sizeof(int));
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tids[i]); fs[i] = open(path, O_RDONLY);
			snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tids[i]); fy[i] = open(path, O_RDONLY);
		}
		int blocked = 0, ran = 0;
		double w0 = now_us();
		for (int r = 0; r < reps; r++)
			for (int i = 0; i < n; i++) {
				double t0 = now_us();
				int m = pread(fs[i], buf, sizeof buf - 1, 0); buf[m > 0 ? m : 0] = 0; unsigned long long run0 = strtoull(buf, 0, 10);
				double t1 = now_us();
				m = pread(fy[i], buf, sizeof buf - 1, 0); buf[m > 0 ? m : 0] = 0;
				double t2 = now_us();
				if (!strncmp(buf, "running", 7)) continue;
				unsigned long nr, a[6], sp, pc;
				if (sscanf(buf, "%lu %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc) != 9) continue;
				blocked++;
				vmread(pid, sp, stack, sizeof stack);
				double t3 = now_us();
				m = pread(fs[i], buf, sizeof buf - 1, 0); buf[m > 0 ? m : 0] = 0; unsigned long long run1 = strtoull(buf, 0, 10);
				double t4 = now_us();
				ran += run1 != run0;
				ph[0][k] = t1 - t0; ph[1][k] = t2 - t1; ph[2][k] = t3 - t2; ph[3][k] = t4 - t3; ph[4][k] = t4 - t0; k++;
			}
		double w1 = now_us();
		printf("nostop2 (fds kept open): %d threads, %d checks of blocked threads, %d saw the thread run meanwhile; %.1f ms per pass over all threads\n", n, blocked, ran, (w1 - w0) / reps / 1000);
		report("schedstat before (pread)", ph[0], k); report("syscall (pread)", ph[1], k);
		report("process_vm_readv 4KiB", ph[2], k); report("schedstat after (pread)", ph[3], k); report("TOTAL per thread", ph[4], k);
		return 0;
	}
	if (!strcmp(mode, "nostop")) {
		// No seize at all: read what /proc says about a blocked thread, its stack, and check it did not run.
		int blocked = 0, ran = 0;
		for (int r = 0; r < reps; r++)
			for (int i = 0; i < n; i++) {
				double t0 = now_us();
				snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tids[i]);
				read_file(path, buf, sizeof buf); unsigned long long run0 = strtoull(buf, 0, 10);
				double t1 = now_us();
				snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tids[i]);
				read_file(path, buf, sizeof buf);
				double t2 = now_us();
				if (!strncmp(buf, "running", 7)) continue;
				unsigned long nr, a[6], sp, pc;
				if (sscanf(buf, "%lu %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc) != 9) continue;
				blocked++;
				vmread(pid, sp, stack, sizeof stack);
				double t3 = now_us();
				snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tids[i]);
				read_file(path, buf, sizeof buf); unsigned long long run1 = strtoull(buf, 0, 10);
				double t4 = now_us();
				ran += run1 != run0;
				ph[0][k] = t1 - t0; ph[1][k] = t2 - t1; ph[2][k] = t3 - t2; ph[3][k] = t4 - t3; ph[4][k] = t4 - t0; k++;
			}
		printf("nostop: %d threads, %d checks of blocked threads, %d saw the thread run meanwhile\n", n, blocked, ran);
		report("schedstat before", ph[0], k); report("/proc/.../syscall", ph[1], k);
		report("process_vm_readv 4KiB", ph[2], k); report("schedstat after", ph[3], k); report("TOTAL per thread", ph[4], k);
		return 0;
	}
	double s0 = now_us();
	for (int i = 0; i < n; i++)
		if (ptrace(PTRACE_SEIZE, tids[i], 0, PTRACE_O_TRACECLONE)) { perror("seize"); return 1; }
	double s1 = now_us();
	printf("seized %d threads in %.1f us (%.2f us each)\n", n, s1 - s0, (s1 - s0) / n);
	snprintf(path, sizeof path, "/proc/%d/mem", pid);
	int mem = open(path, O_RDWR);
	if (!strcmp(mode, "batch")) {
		double *round = ph[5]; int rk = 0;
		struct user_regs_struct *regs = calloc(n, sizeof *regs);
		for (int r = 0; r < reps; r++) {
			double t0 = now_us();
			for (int i = 0; i < n; i++) ptrace(PTRACE_INTERRUPT, tids[i], 0, 0);
			double t1 = now_us();
			for (int i = 0; i < n; i++) wait_stop(tids[i]);
			double t2 = now_us();
			for (int i = 0; i < n; i++) { ptrace(PTRACE_GETREGS, tids[i], 0, &regs[i]); vmread(pid, regs[i].rsp, stack, sizeof stack); }
			double t3 = now_us();
			for (int i = 0; i < n; i++) ptrace(PTRACE_CONT, tids[i], 0, 0);
			double t4 = now_us();
			ph[0][rk] = t1 - t0; ph[1][rk] = t2 - t1; ph[2][rk] = t3 - t2; ph[3][rk] = t4 - t3; round[rk] = t4 - t0; rk++;
		}
		printf("batch (all %d threads per round):\n", n);
		report("interrupt all", ph[0], rk); report("waitpid all", ph[1], rk); report("regs+4KiB all", ph[2], rk);
		report("cont all", ph[3], rk); report("round = all stopped ~", round, rk);
		return 0;
	}
	if (!strncmp(mode, "pipe", 4)) {
		// Pipelined: up to K interrupts outstanding; each thread is handled (regs, 4 KiB, table byte)
		// and resumed as soon as its own stop is seen. Never more than K threads stopped.
		int K = atoi(mode + 4); if (K < 1) K = 4;
		double *ts = calloc(n, sizeof(double)), w0 = now_us();
		int maxstopped = 0;
		for (int r = 0; r < reps; r++) {
			int next = 0, done = 0, out = 0;
			while (done < n) {
				while (out < K && next < n) { ts[next] = now_us(); ptrace(PTRACE_INTERRUPT, tids[next], 0, 0); next++; out++; }
				int st, tid = waitpid(-1, &st, __WALL);
				if (tid < 0) { perror("waitpid"); return 1; }
				if (!(WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP)) { ptrace(PTRACE_CONT, tid, 0, WIFSTOPPED(st) ? WSTOPSIG(st) : 0); continue; }
				int i = 0; while (tids[i] != tid) i++;
				double t2 = now_us(); struct user_regs_struct regs;
				ptrace(PTRACE_GETREGS, tid, 0, &regs); vmread(pid, regs.rsp, stack, sizeof stack);
				char one = 0; pwrite(mem, &one, 1, regs.rsp - 4096);
				ptrace(PTRACE_CONT, tid, 0, 0);
				double t6 = now_us();
				ph[1][k] = t2 - ts[i]; ph[6][k] = t6 - t2; k++;
				if (out > maxstopped) maxstopped = out;
				out--; done++;
			}
		}
		double w1 = now_us();
		printf("pipe K=%d: %d threads x %d rounds, %.1f ms per pass, at most %d interrupts outstanding\n", K, n, reps, (w1 - w0) / reps / 1000, maxstopped);
		report("interrupt -> stop seen", ph[1], k); report("STOPPED (seen->resumed)", ph[6], k);
		return 0;
	}
	double w0 = now_us();
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++) {
			int tid = tids[i]; struct user_regs_struct regs;
			double t0 = now_us();
			ptrace(PTRACE_INTERRUPT, tid, 0, 0);
			double t1 = now_us();
			wait_stop(tid);
			double t2 = now_us();
			ptrace(PTRACE_GETREGS, tid, 0, &regs);
			double t3 = now_us();
			if (!strcmp(mode, "pread")) {
				for (int j = 0; j < 14; j++) pread(mem, stack + 8 * j, 8, regs.rsp + 8 * j * 16);
			} else {
				vmread(pid, regs.rsp, stack, sizeof stack);
			}
			double t4 = now_us();
			char one = 0; pwrite(mem, &one, 1, regs.rsp - 4096);  /* the table byte: dead stack below the red zone */
			double t5 = now_us();
			ptrace(PTRACE_CONT, tid, 0, 0);
			double t6 = now_us();
			ph[0][k] = t1 - t0; ph[1][k] = t2 - t1; ph[2][k] = t3 - t2; ph[3][k] = t4 - t3; ph[4][k] = t5 - t4; ph[5][k] = t6 - t5;
			ph[6][k] = t6 - t2;  /* stopped, as Graft counts it: stop seen -> resume sent */
			ph[7][k] = t6 - t0; k++;
		}
	printf("mode %s: %d threads x %d rounds, %.1f ms per pass\n", mode, n, reps, (now_us() - w0) / reps / 1000);
	report("PTRACE_INTERRUPT", ph[0], k); report("waitpid (until stopped)", ph[1], k); report("GETREGS", ph[2], k);
	report(!strcmp(mode, "pread") ? "14 x pread 8B /proc/pid/mem" : "process_vm_readv 4KiB", ph[3], k);
	report("pwrite 1B (table)", ph[4], k); report("PTRACE_CONT", ph[5], k);
	report("STOPPED (seen->resumed)", ph[6], k); report("TOTAL per thread", ph[7], k);
	return 0;
}
