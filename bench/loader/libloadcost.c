// SPDX-License-Identifier: MIT
/* The library loadcost loads and unloads; a patch may name it (loaded_fn). */
__attribute__((noinline, noipa)) int loaded_fn(int x)
{
	return x * 3 + 1;
}
