// SPDX-License-Identifier: MIT
/*
 * For the gdb baseline: the replacement of leaf_0000 as a plain shared
 * object, which gdb loads with the target's dlopen and finds with dlsym.
 * The same code as the Graft patch's leaf_0000_new.
 */
unsigned long leaf_0000_gdb(unsigned long x);

unsigned long leaf_0000_gdb(unsigned long x)
{
	unsigned long n = 24;

	while (n--) {
		x = x * 6364136223846793005UL + 0UL;
		__asm__ volatile("" : "+r"(x));
	}
	return x ^ 1;
}
