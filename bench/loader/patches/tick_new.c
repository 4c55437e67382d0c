// SPDX-License-Identifier: MIT
/* Gives graftd a reason to watch loadcost: replaces tick(). */
#include <graft.h>

static const char *tick_new(void)
{
	return "tick-new";
}

static struct graft_func funcs[] = {
	{ .old_name = "tick", .new_func = tick_new },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "tick-new", .objs = objs };
GRAFT_PATCH(patch);
