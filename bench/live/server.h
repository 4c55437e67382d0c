/* SPDX-License-Identifier: MIT */
/* What the benchmark server's generated leaf functions (leaves.c) share with it. */
#ifndef SERVER_H
#define SERVER_H

/* How many leaf functions the server has; the largest patch replaces all. */
#define LEAVES 1000

/*
 * A patch target must stay a real function with its own entry: noipa
 * keeps GCC from inlining it, cloning it or assuming anything about its
 * result at the call sites, all of which would bypass a patch.
 */
#define PATCH_TARGET __attribute__((noinline, noclone, noipa))

typedef unsigned long leaf_fn(unsigned long x);

extern leaf_fn *const leaves[LEAVES];

#endif
