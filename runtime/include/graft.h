/* SPDX-License-Identifier: MIT */
/*
 * graft.h - what a Graft patch is made of.
 *
 * A patch is a shared object built from C, e.g.
 *
 *	cc -shared -fPIC -O2 -g -Wl,-z,now -Wl,--build-id \
 *	   -I<graft>/include -L<graft>/lib -Wl,-rpath,<graft>/lib -lgraft \
 *	   -o fix.so fix.c
 *
 * It describes itself with one struct graft_patch, published with
 * GRAFT_PATCH().  Graft reads that descriptor twice: statically from the
 * file (symbol table plus relocations) to check the patch against the
 * target before anything in the target changes, and from memory after
 * the target's own dlopen() has loaded it.
 *
 *	static const char *describe_new(unsigned long n) { return "new"; }
 *
 *	static struct graft_func funcs[] = {
 *		{ .old_name = "describe", .new_func = describe_new },
 *		{ }
 *	};
 *	static struct graft_object objs[] = {
 *		{ .name = NULL, .funcs = funcs },
 *		{ }
 *	};
 *	static struct graft_patch patch = { .name = "describe-new", .objs = objs };
 *	GRAFT_PATCH(patch);
 *
 * Patch code may keep extra state beside the target's data structures
 * with the shadow variables below (the kernel's klp_shadow_* API), and may
 * use the target's local functions and variables through GRAFT_LOCAL().
 */
#ifndef GRAFT_H
#define GRAFT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout of the structures below changes. */
#define GRAFT_ABI_VERSION 2

/* One function of the target replaced by one function of the patch. */
struct graft_func {
	/* function of the target to replace */
	const char *old_name;
	/* its replacement in the patch */
	void *new_func;
	/*
	 * 0: old_name must be unique in the object; N >= 1: the Nth local
	 * symbol of that name in the symbol table (as the kernel counts).
	 */
	unsigned long old_sympos;
};

struct graft_object;

/*
 * Callbacks run inside the target, on a thread Graft has stopped where it
 * holds no lock of the C library (so they may call malloc(), take locks
 * and use shadow variables), and only for an object that is loaded.  As
 * the kernel's (un)patch callbacks they run in symmetry:
 *
 *  - pre_patch: before any thread can run the object's new functions.
 *    Nonzero fails the apply: nothing stays patched, and graft reports
 *    the value (a negative errno, e.g. -ENODEV; -1: errno is read).
 *  - post_patch: once every thread runs the new functions.
 *  - pre_unpatch: before a revert starts, only if post_patch ran.  A
 *    transition that is reversed in flight never ran post_patch, so it
 *    runs no pre_unpatch.
 *  - post_unpatch: once no thread runs the new functions any more, only
 *    if pre_patch ran (and succeeded); the patch is still loaded.
 */
struct graft_callbacks {
	int (*pre_patch)(struct graft_object *obj);
	void (*post_patch)(struct graft_object *obj);
	void (*pre_unpatch)(struct graft_object *obj);
	void (*post_unpatch)(struct graft_object *obj);
};

/* The main executable or one shared library of the target. */
struct graft_object {
	/*
	 * NULL: the main executable; otherwise a library by file name or
	 * soname, e.g. "libfoo.so.1".  A library the process has not loaded
	 * is accepted and left alone: its functions are not patched and its
	 * callbacks do not run.
	 */
	const char *name;
	/* terminated by an all-zero entry; may be empty ({ }) */
	struct graft_func *funcs;
	/* optional: lowercase hex GNU build-id the object must have; NULL: any */
	const char *build_id;
	/* optional, each of them */
	struct graft_callbacks callbacks;
};

struct graft_patch {
	const char *name;
	/* terminated by an entry whose funcs is NULL */
	struct graft_object *objs;
	/*
	 * A cumulative patch (the kernel's atomic replace): applying it
	 * replaces every patch applied before it in one transition.  The
	 * functions only those touched go back to their original code, their
	 * callbacks do not run, and they are unloaded.
	 */
	bool replace;
};

/*
 * A reference from patch code to a local (non-exported) function or
 * variable of the target: the kernel's klp relocations.  Written by
 * GRAFT_LOCAL() into the section ".graft.locals"; see there.
 */
struct graft_local_sym {
	const char *name;
	/* as graft_object.name: NULL is the main executable */
	const char *object;
	/* as graft_func.old_sympos */
	unsigned long sympos;
};

/*
 * Defined by GRAFT_PATCH().  Declared here, exported, so that they keep C
 * linkage and default visibility in C++ and with -fvisibility=hidden.
 */
extern const unsigned int graft_abi_version
	__attribute__((visibility("default")));
extern const struct graft_patch *const graft_patch_descriptor
	__attribute__((visibility("default")));
/* The register-preserving entry below, and where Graft finds it. */
extern void graft_preserve(void) __attribute__((visibility("hidden")));
extern const void *const graft_preserve_entry
	__attribute__((visibility("default")));

/*
 * The register-preserving entry (graft_preserve).  A caller built with
 * gcc -O2 relies on more than the ABI: under -fipa-ra it keeps values in
 * the caller-saved registers a function it knows leaves alone, and under
 * -fipa-stack-alignment it may call such a function with rsp misaligned.
 * When a replacement may change a register its original leaves alone (or
 * needs an aligned stack its original does not), Graft sends calls through
 * this code: a 64-byte stub in Graft's slot pushes the address of its
 * descriptor over the caller's return address and jumps here (a push and a
 * jump, not a call, so that the return stack stays balanced).  The
 * descriptor:
 *   +0  the replacement
 *   +8  XSAVE components to save and restore (0: none)
 *   +16 XSAVE area size (a multiple of 64)
 *   +24 bits 0-15: general registers to put back (bit n: the register
 *       numbered n); bits 16-23: 1 pass xmm0/xmm1 back (the original may
 *       return in them), 2 they are ymm wide, 4 zmm wide; bits 32-47: bytes
 *       of stack-passed arguments to copy (a multiple of 8)
 * It aligns the stack, copies the stack-passed arguments, calls the
 * replacement with every register as the caller left it, and afterwards
 * puts back what the original would have left alone.  Its CFI lets C++
 * exceptions, gdb and Graft's own unwinder walk through it; it lies in the
 * patch, so a thread inside it counts as running the patch.
 */
#define GRAFT_PRESERVE_ASM						\
	".pushsection .text.graft_preserve,\"ax\",@progbits\n"		\
	".intel_syntax noprefix\n"					\
	".p2align 4\n"							\
	".type graft_preserve,@function\n"				\
	"graft_preserve:\n"						\
	".cfi_startproc\n"						\
	".cfi_def_cfa_offset 16\n"					\
	"push rbp\n"							\
	".cfi_def_cfa_offset 24\n"					\
	".cfi_offset rbp, -24\n"					\
	"mov rbp, rsp\n"						\
	".cfi_def_cfa_register rbp\n"					\
	"sub rsp, 256\n"						\
	"mov [rbp-8], rax\n"						\
	"mov [rbp-16], rcx\n"						\
	"mov [rbp-24], rdx\n"						\
	"mov [rbp-32], rsi\n"						\
	"mov [rbp-40], rdi\n"						\
	"mov [rbp-48], r8\n"						\
	"mov [rbp-56], r9\n"						\
	"mov [rbp-64], r10\n"						\
	"mov [rbp-72], r11\n"						\
	"mov r11, [rbp+8]\n"						\
	"mov rax, [r11]\n"						\
	"mov [rbp-104], rax\n"						\
	"mov rax, [r11+24]\n"						\
	"mov [rbp-80], rax\n"						\
	"mov rax, [r11+8]\n"						\
	"mov [rbp-96], rax\n"						\
	"and rsp, -64\n"						\
	"cmp qword ptr [rbp-96], 0\n"					\
	"je 1f\n"							\
	"sub rsp, [r11+16]\n"						\
	"xor eax, eax\n"						\
	"mov [rsp+512], rax\n"						\
	"mov [rsp+520], rax\n"						\
	"mov [rsp+528], rax\n"						\
	"mov [rsp+536], rax\n"						\
	"mov [rsp+544], rax\n"						\
	"mov [rsp+552], rax\n"						\
	"mov [rsp+560], rax\n"						\
	"mov [rsp+568], rax\n"						\
	"mov rax, [rbp-96]\n"						\
	"mov rdx, rax\n"						\
	"shr rdx, 32\n"							\
	"xsave64 [rsp]\n"						\
	"mov [rbp-112], rsp\n"						\
	"1:\n"								\
	"movzx ecx, word ptr [r11+28]\n"				\
	"sub rsp, rcx\n"						\
	"and rsp, -16\n"						\
	"lea rsi, [rbp+24]\n"						\
	"mov rdi, rsp\n"						\
	"rep movsb\n"							\
	"mov rax, [rbp-8]\n"						\
	"mov rcx, [rbp-16]\n"						\
	"mov rdx, [rbp-24]\n"						\
	"mov rsi, [rbp-32]\n"						\
	"mov rdi, [rbp-40]\n"						\
	"mov r8, [rbp-48]\n"						\
	"mov r9, [rbp-56]\n"						\
	"mov r10, [rbp-64]\n"						\
	"mov r11, [rbp-72]\n"						\
	"call [rbp-104]\n"						\
	"cmp qword ptr [rbp-96], 0\n"					\
	"je 6f\n"							\
	"mov [rbp-120], rax\n"						\
	"mov [rbp-128], rdx\n"						\
	"test byte ptr [rbp-78], 1\n"					\
	"jz 3f\n"							\
	"test byte ptr [rbp-78], 4\n"					\
	"jz 2f\n"							\
	"vmovdqu64 [rbp-256], zmm0\n"					\
	"vmovdqu64 [rbp-192], zmm1\n"					\
	"jmp 3f\n"							\
	"2:\n"								\
	"test byte ptr [rbp-78], 2\n"					\
	"jz 2f\n"							\
	"vmovdqu [rbp-256], ymm0\n"					\
	"vmovdqu [rbp-224], ymm1\n"					\
	"jmp 3f\n"							\
	"2:\n"								\
	"movdqu [rbp-256], xmm0\n"					\
	"movdqu [rbp-240], xmm1\n"					\
	"3:\n"								\
	"mov rcx, [rbp-112]\n"						\
	"mov rax, [rbp-96]\n"						\
	"mov rdx, rax\n"						\
	"shr rdx, 32\n"							\
	"xrstor64 [rcx]\n"						\
	"test byte ptr [rbp-78], 1\n"					\
	"jz 5f\n"							\
	"test byte ptr [rbp-78], 4\n"					\
	"jz 4f\n"							\
	"vmovdqu64 zmm0, [rbp-256]\n"					\
	"vmovdqu64 zmm1, [rbp-192]\n"					\
	"jmp 5f\n"							\
	"4:\n"								\
	"test byte ptr [rbp-78], 2\n"					\
	"jz 4f\n"							\
	"vmovdqu ymm0, [rbp-256]\n"					\
	"vmovdqu ymm1, [rbp-224]\n"					\
	"jmp 5f\n"							\
	"4:\n"								\
	"movdqu xmm0, [rbp-256]\n"					\
	"movdqu xmm1, [rbp-240]\n"					\
	"5:\n"								\
	"mov rax, [rbp-120]\n"						\
	"mov rdx, [rbp-128]\n"						\
	"6:\n"								\
	GRAFT_PRESERVE_RESTORE("rax", "[rbp-80]", "1", "[rbp-8]")	\
	GRAFT_PRESERVE_RESTORE("rcx", "[rbp-80]", "2", "[rbp-16]")	\
	GRAFT_PRESERVE_RESTORE("rdx", "[rbp-80]", "4", "[rbp-24]")	\
	GRAFT_PRESERVE_RESTORE("rsi", "[rbp-80]", "0x40", "[rbp-32]")	\
	GRAFT_PRESERVE_RESTORE("rdi", "[rbp-80]", "0x80", "[rbp-40]")	\
	GRAFT_PRESERVE_RESTORE("r8", "[rbp-79]", "1", "[rbp-48]")	\
	GRAFT_PRESERVE_RESTORE("r9", "[rbp-79]", "2", "[rbp-56]")	\
	GRAFT_PRESERVE_RESTORE("r10", "[rbp-79]", "4", "[rbp-64]")	\
	GRAFT_PRESERVE_RESTORE("r11", "[rbp-79]", "8", "[rbp-72]")	\
	"leave\n"							\
	".cfi_def_cfa rsp, 16\n"					\
	".cfi_restore rbp\n"						\
	"lea rsp, [rsp+8]\n"						\
	".cfi_def_cfa_offset 8\n"					\
	"ret\n"								\
	".cfi_endproc\n"						\
	".size graft_preserve, .-graft_preserve\n"			\
	".att_syntax prefix\n"						\
	".popsection\n"

/* Puts back one general register if the mask byte's bit says so. */
#define GRAFT_PRESERVE_RESTORE(reg, maskbyte, bit, saved)		\
	"test byte ptr " maskbyte ", " bit "\n"				\
	"jz 7f\n"							\
	"mov " reg ", " saved "\n"					\
	"7:\n"

/*
 * GRAFT_PATCH(p) - publish p as the patch of this shared object.
 *
 * Exactly one use per patch, at file scope.  Both symbols are exported
 * (see their declarations above) so that Graft finds them in the file's
 * dynamic symbol table and, after dlopen(), with dlsym().
 */
#define GRAFT_PATCH(p)							\
	__asm__(GRAFT_PRESERVE_ASM);					\
	__attribute__((used))						\
	const void *const graft_preserve_entry =			\
		(const void *)&graft_preserve;				\
	__attribute__((used))						\
	const unsigned int graft_abi_version = GRAFT_ABI_VERSION;	\
	__attribute__((used))						\
	const struct graft_patch *const graft_patch_descriptor = &(p)

/*
 * GRAFT_LOCAL(sym, object, sympos) - use a local symbol of the target.
 *
 * First declare the symbol as the target's source does, then name it:
 *
 *	extern int request_count;
 *	extern int checksum(const char *buf, int len);
 *	GRAFT_LOCAL(request_count, NULL, 0);
 *	GRAFT_LOCAL(checksum, NULL, 0);
 *
 * object and sympos select the symbol as in struct graft_object and
 * struct graft_func.  The contract:
 *
 *  - sym becomes a weak undefined symbol of the patch, so the dynamic
 *    linker leaves its GOT slot (GLOB_DAT or JUMP_SLOT relocation) at 0
 *    instead of failing the dlopen().
 *  - Graft looks sym up in the target object's .symtab (it is not in
 *    .dynsym, being local) and writes its address into every such GOT
 *    slot after dlopen() has mapped the patch and before any replacement
 *    function or callback can run.
 *  - Hence patch constructors (__attribute__((constructor))) must not
 *    touch sym: at that time its address is still 0.
 *  - Patches must be linked with -Wl,-z,now so that no lazy PLT
 *    resolution later overwrites a slot Graft has written.
 *  - If the target object has no such symbol, the patch is refused.
 */
#define GRAFT_LOCAL(sym, object, sympos)				\
	extern __typeof__(sym) sym __attribute__((weak));		\
	static const struct graft_local_sym graft_local_##sym		\
	__attribute__((used, section(".graft.locals"), aligned(8))) =	\
		{ #sym, (object), (sympos) }

/*
 * Shadow variables (the kernel's klp_shadow_*): extra data attached to an
 * existing object of the target, keyed by the pair <obj, id>.  obj is
 * only a key and is never dereferenced.  There is one table per process,
 * shared by every patch, because libgraft.so is loaded once per process
 * and never unloaded (it is linked -z nodelete), so variables outlive the
 * patches that made them.
 *
 * graft_shadow_get() is lock-free and async-signal-safe, so replacement
 * functions called from signal handlers may use it.  The others allocate
 * memory and are not async-signal-safe.  ctor and dtor run with a table
 * lock held and signals blocked: they must not call graft_shadow_* and
 * should be short.
 */

/* Initialises fresh zeroed shadow data; nonzero fails the allocation. */
typedef int (*graft_shadow_ctor_t)(void *obj, void *shadow_data,
				   void *ctor_data);
/* Releases what the shadow data holds, just before it is freed. */
typedef void (*graft_shadow_dtor_t)(void *obj, void *shadow_data);

/* The data of <obj, id>, or NULL if there is none. */
void *graft_shadow_get(void *obj, unsigned long id);

/*
 * Attach size zeroed bytes to <obj, id>, initialised by ctor(obj, data,
 * ctor_data) if ctor is not NULL.  NULL (with a warning on stderr) if
 * <obj, id> already exists, or NULL if out of memory or ctor failed.
 */
void *graft_shadow_alloc(void *obj, unsigned long id, size_t size,
			 graft_shadow_ctor_t ctor, void *ctor_data);

/* As graft_shadow_alloc(), but returns the existing data if there is one. */
void *graft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
				graft_shadow_ctor_t ctor, void *ctor_data);

/* Detach and free <obj, id>, calling dtor(obj, data) first if not NULL. */
void graft_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor);

/* Detach and free every <*, id>, calling dtor for each if not NULL. */
void graft_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor);

/* GRAFT_ABI_VERSION of the libgraft.so loaded in this process. */
extern const unsigned int graft_runtime_abi_version;

#ifdef __cplusplus
}
#endif

#endif /* GRAFT_H */
