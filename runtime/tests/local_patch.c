// SPDX-License-Identifier: MIT
/*
 * A patch using GRAFT_LOCAL() for a variable and a function that the
 * host (local_test) does not export: dlopen() must still succeed, with
 * both GOT slots left at 0 for Graft to fill in.
 */
#include <graft.h>

extern int request_count;
extern int checksum(const char *buf, int len);
GRAFT_LOCAL(request_count, NULL, 0);
GRAFT_LOCAL(checksum, "libtarget.so.1", 2);

static int uses_locals(const char *buf, int len)
{
	if (&request_count == NULL || checksum == NULL)
		return -1;
	request_count++;
	return checksum(buf, len);
}

static struct graft_func funcs[] = {
	{ .old_name = "handle", .new_func = uses_locals, .old_sympos = 1 },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "local-test", .objs = objs };
GRAFT_PATCH(patch);
