// SPDX-License-Identifier: MIT
/*
 * For server: replaces serve_request(), which a busy worker is inside
 * for the whole of each request.  A stop-world apply needs a moment when
 * no worker at all is inside it; a per-thread one catches each worker
 * between two requests.  The new version does the same work.
 */
#include <graft.h>
#include <stdatomic.h>

#define LEAVES 1000

struct worker;
typedef unsigned long leaf_fn(unsigned long x);

extern leaf_fn *const leaves[LEAVES];
extern atomic_ulong units_done;
extern void record_unit(struct worker *w);
GRAFT_LOCAL(leaves, NULL, 0);
GRAFT_LOCAL(units_done, NULL, 0);
GRAFT_LOCAL(record_unit, NULL, 0);

/* The first member of struct worker is 64-byte aligned, last_unit follows. */
struct worker_view {
	_Alignas(64) atomic_ulong largest_gap;
	unsigned long last_unit;
};

static unsigned long serve_request_new(struct worker *w, unsigned long units)
{
	unsigned long x = units, i;

	((struct worker_view *)w)->last_unit = 0;
	for (i = 0; i < units; i++) {
		x = leaves[i % LEAVES](x);
		record_unit(w);
	}
	atomic_fetch_add_explicit(&units_done, units, memory_order_relaxed);
	return x;
}

static struct graft_func funcs[] = {
	{ .old_name = "serve_request", .new_func = serve_request_new },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "serve-request-new", .objs = objs };
GRAFT_PATCH(patch);
