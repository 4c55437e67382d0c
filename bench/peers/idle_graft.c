// SPDX-License-Identifier: MIT
/*
 * The fix of idle-fix.patch as a graft patch: replaces idle's answer(),
 * which returns n + 1, with one that returns n + 2.  Built with
 * `out/graft build idle_graft.c -o idle_graft.so` (bench/peers/run does).
 */
#include <graft.h>

static unsigned long answer_fixed(unsigned long n)
{
	return n + 2;
}

static struct graft_func funcs[] = {
	{ .old_name = "answer", .new_func = answer_fixed },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "idle-fix", .objs = objs };
GRAFT_PATCH(patch);
