/* A minimal patch, for tests of what reading a patch file does (PatchDigestTests). */
#include <graft.h>

static int fixed_answer(void)
{
	return 42;
}

static struct graft_func funcs[] = {
	{ .old_name = "answer", .new_func = fixed_answer },
	{ }
};
static struct graft_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{ }
};
static struct graft_patch patch = { .name = "fix-answer", .objs = objs };
GRAFT_PATCH(patch);
