// SPDX-License-Identifier: MIT
/*
 * local_test - loads local_patch.so as the target's dlopen() would and
 * checks what Graft relies on: the exported descriptor and ABI version,
 * and unresolved GRAFT_LOCAL() symbols that do not fail the load.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			exit(1);					\
		}							\
	} while (0)

int main(int argc, char **argv)
{
	const struct graft_patch *const *descriptor;
	const unsigned int *abi;
	int (*uses_locals)(const char *, int);
	void *patch;

	CHECK(argc == 2);
	patch = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!patch)
		fprintf(stderr, "%s\n", dlerror());
	CHECK(patch != NULL);

	abi = dlsym(patch, "graft_abi_version");
	descriptor = dlsym(patch, "graft_patch_descriptor");
	CHECK(abi && *abi == GRAFT_ABI_VERSION);
	CHECK(descriptor && *descriptor);
	CHECK(strcmp((*descriptor)->name, "local-test") == 0);
	CHECK((*descriptor)->objs[0].name == NULL);
	CHECK(strcmp((*descriptor)->objs[0].funcs[0].old_name, "handle") == 0);
	CHECK((*descriptor)->objs[0].funcs[0].old_sympos == 1);
	CHECK((*descriptor)->objs[0].funcs[1].old_name == NULL);
	CHECK((*descriptor)->objs[1].funcs == NULL);

	/* Before Graft writes the GOT slots the patch sees NULL addresses. */
	uses_locals = (int (*)(const char *, int))
		(*descriptor)->objs[0].funcs[0].new_func;
	CHECK(uses_locals("x", 1) == -1);

	printf("local_test: ok\n");
	return 0;
}
