// SPDX-License-Identifier: MIT
/* The library awaited_new.so names, which loadcost never loads (hook-run enables its patch host-wide). */
__attribute__((noinline, noipa)) int awaited_fn(int x)
{
	return x * 5 + 2;
}
