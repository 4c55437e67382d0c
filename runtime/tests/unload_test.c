// SPDX-License-Identifier: MIT
/*
 * unload_test - shadow variables outlive the patches that made them, as
 * the kernel's outlive livepatch modules: when graft reverts the last
 * patch, dlclose() must not take libgraft.so and its table along, or a
 * patch applied later would not find the variables an earlier one made.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "graft.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			exit(1);					\
		}							\
	} while (0)

static void *open_runtime(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!lib)
		fprintf(stderr, "%s\n", dlerror());
	CHECK(lib != NULL);
	return lib;
}

int main(int argc, char **argv)
{
	__typeof__(graft_shadow_alloc) *alloc;
	__typeof__(graft_shadow_get) *get;
	static long parent;
	long *data;
	void *lib;

	CHECK(argc == 2);
	lib = open_runtime(argv[1]);
	alloc = (__typeof__(alloc))dlsym(lib, "graft_shadow_alloc");
	CHECK(alloc != NULL);
	data = alloc(&parent, 1, sizeof(*data), NULL, NULL);
	CHECK(data != NULL);
	*data = 42;
	CHECK(dlclose(lib) == 0);

	CHECK(dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) != NULL);
	lib = open_runtime(argv[1]);
	get = (__typeof__(get))dlsym(lib, "graft_shadow_get");
	CHECK(get != NULL);
	CHECK(get(&parent, 1) == data && *data == 42);
	printf("unload_test: ok\n");
	return 0;
}
