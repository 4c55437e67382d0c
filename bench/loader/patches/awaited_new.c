// SPDX-License-Identifier: MIT
/*
 * Names libawaited.so, a library loadcost never loads: graftd must watch the
 * process's loader for it, while every load it sees is of a library no patch
 * names.
 */
#include <graft.h>

static int awaited_fn_new(int x)
{
	return x + 1;
}

static struct graft_func funcs[] = {
	{ .old_name = "awaited_fn", .new_func = awaited_fn_new },
	{ }
};

static struct graft_object objs[] = {
	{ .name = "libawaited.so", .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "awaited-new", .objs = objs };
GRAFT_PATCH(patch);
