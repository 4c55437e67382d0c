// SPDX-License-Identifier: MIT
/* Names libloadcost.so, so that every load of it is patched by graftd. */
#include <graft.h>

static int loaded_fn_new(int x)
{
	return x * 3 + 2;
}

static struct graft_func funcs[] = {
	{ .old_name = "loaded_fn", .new_func = loaded_fn_new },
	{ }
};

static struct graft_object objs[] = {
	{ .name = "libloadcost.so", .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "loaded-new", .objs = objs };
GRAFT_PATCH(patch);
