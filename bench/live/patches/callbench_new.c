// SPDX-License-Identifier: MIT
/*
 * For callbench: replaces callee() with the same code, so that the
 * difference in ns per call is the redirect alone, and hold(), so that
 * a thread waiting inside it holds a per-thread transition in flight.
 */
#include <graft.h>
#include <time.h>
#include <unistd.h>

static unsigned long callee_new(unsigned long x)
{
	return x * 3 + 1;
}

static void hold_new(const char *path)
{
	struct timespec pause = { 0, 5000000L };

	while (access(path, F_OK))
		nanosleep(&pause, NULL);
}

static struct graft_func funcs[] = {
	{ .old_name = "callee", .new_func = callee_new },
	{ .old_name = "hold", .new_func = hold_new },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "callbench-new", .objs = objs };
GRAFT_PATCH(patch);
