/* The patch of `graft demo`: parse_len without the off-by-one. */
#include <graft.h>
#include <string.h>

static int fixed_parse_len(const char *buf, int n)
{
	return (int)strnlen(buf, n);
}

static struct graft_func funcs[] = {
	{ .old_name = "parse_len", .new_func = fixed_parse_len },
	{ }
};

static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};

static struct graft_patch patch = { .name = "fix-parse-len", .objs = objs };
GRAFT_PATCH(patch);
