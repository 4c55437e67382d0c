/*
 * graft_preserve (graft.h), seen from the caller's side: an assembly caller
 * loads its own value into every register a leaf original leaves alone,
 * calls through a stub laid out as Graft's slot lays it out, with rsp
 * misaligned and one argument on the stack, and counts every register that
 * comes back changed.  The replacement clobbers every caller-saved register
 * (general, xmm/ymm/zmm, k) and checks that its stack is aligned and that
 * its stack argument arrived.  A second run checks that what the original
 * may change (rax, xmm0) carries the replacement's results back.
 */
#include <graft.h>

#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Written by the caller: registers it found changed, and rsp%16 seen by the replacement. */
unsigned long changed_registers;
unsigned long replacement_misaligned;
unsigned long replacement_stack_argument;
unsigned long returned_rax;
double returned_xmm0;

/*
 * replacement(a1..a6, stack7): clobbers everything the ABI lets it, then
 * returns 7 + stack7 in rax and 2.5 in xmm0.
 */
extern void replacement(void);
/* caller(stub): the callers-eye check described above. */
extern void caller(void *stub);

__asm__(
	".intel_syntax noprefix\n"
	".text\n"
	"replacement:\n"
	"mov rax, rsp\n"
	"add rax, 8\n"
	"and rax, 15\n"
	"mov [rip+replacement_misaligned], rax\n"
	"mov rax, [rsp+8]\n"
	"mov [rip+replacement_stack_argument], rax\n"
	"mov rcx, -1\n mov rdx, -1\n mov rsi, -1\n mov rdi, -1\n"
	"mov r8, -1\n mov r9, -1\n mov r10, -1\n mov r11, -1\n"
	"pcmpeqd xmm0, xmm0\n pcmpeqd xmm1, xmm1\n pcmpeqd xmm2, xmm2\n pcmpeqd xmm3, xmm3\n"
	"pcmpeqd xmm4, xmm4\n pcmpeqd xmm5, xmm5\n pcmpeqd xmm6, xmm6\n pcmpeqd xmm7, xmm7\n"
	"pcmpeqd xmm8, xmm8\n pcmpeqd xmm9, xmm9\n pcmpeqd xmm10, xmm10\n pcmpeqd xmm11, xmm11\n"
	"pcmpeqd xmm12, xmm12\n pcmpeqd xmm13, xmm13\n pcmpeqd xmm14, xmm14\n pcmpeqd xmm15, xmm15\n"
	"mov rax, [rsp+8]\n"
	"add rax, 7\n"
	"mov rcx, 0x4004000000000000\n" /* 2.5 */
	"movq xmm0, rcx\n"
	"mov rcx, -1\n"
	"ret\n"
	"caller:\n"
	"push rbx\n push rbp\n push r12\n push r13\n push r14\n push r15\n"
	"mov rbx, rdi\n"
	/* 6 pushes + return address: rsp is 16-aligned here; one more word misaligns the call. */
	"sub rsp, 8\n"
	"push 35\n" /* the stack argument, at the call's rsp */
	"mov rcx, 0x1111\n mov rdx, 0x2222\n mov rsi, 0x3333\n mov rdi, 0x4444\n"
	"mov r8, 0x5555\n mov r9, 0x6666\n mov r10, 0x7777\n mov r11, 0x8888\n"
	"mov rax, 0x9999\n"
	"movq xmm1, rax\n movq xmm2, rax\n movq xmm8, rax\n movq xmm15, rax\n"
	"mov rax, 0\n"
	"call rbx\n"
	"add rsp, 16\n"
	"mov [rip+returned_rax], rax\n"
	"movq [rip+returned_xmm0], xmm0\n"
	"xor r12, r12\n"
	"cmp rcx, 0x1111\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp rdx, 0x2222\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp rsi, 0x3333\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp rdi, 0x4444\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp r8, 0x5555\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp r9, 0x6666\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp r10, 0x7777\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"cmp r11, 0x8888\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"mov r13, 0x9999\n"
	"movq rax, xmm1\n cmp rax, r13\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"movq rax, xmm2\n cmp rax, r13\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"movq rax, xmm8\n cmp rax, r13\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"movq rax, xmm15\n cmp rax, r13\n setne bl\n movzx rbx, bl\n add r12, rbx\n"
	"mov [rip+changed_registers], r12\n"
	"pop r15\n pop r14\n pop r13\n pop r12\n pop rbp\n pop rbx\n"
	"ret\n"
	".att_syntax prefix\n");

static int f(int x) { return x; }
static struct graft_func funcs[] = { { .old_name = "f", .new_func = f }, { } };
static struct graft_object objs[] = { { .name = NULL, .funcs = funcs }, { } };
static struct graft_patch patch = { .name = "preserve-test", .objs = objs };
GRAFT_PATCH(patch);

/* XSAVE components of SSE, AVX and AVX-512 this machine has, and the area they need. */
static void vector_state(uint64_t *mask, uint64_t *size, uint64_t *width)
{
	unsigned int a, b, c, d;
	uint64_t supported, end = 576;

	__cpuid_count(0xd, 0, a, b, c, d);
	supported = a & 0xe6;
	*mask = supported;
	for (int component = 2; component < 8; component++) {
		if (!(supported & (1u << component)))
			continue;
		__cpuid_count(0xd, component, a, b, c, d);
		if (b + a > end)
			end = b + a;
	}
	*size = (end + 63) & ~63ull;
	*width = (supported & 0xe0) ? 4 : (supported & 4) ? 2 : 0;
}

static int run(uint64_t restore, int pass_vectors)
{
	uint8_t *stub = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t words[6], mask, size, width;

	if (stub == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	vector_state(&mask, &size, &width);
	/* push [rip+0xa] (+0x10); jmp [rip+0xc] (+0x18); int3s; then the words */
	memcpy(stub, "\xff\x35\x0a\x00\x00\x00\xff\x25\x0c\x00\x00\x00\xcc\xcc\xcc\xcc", 16);
	words[0] = (uint64_t)(stub + 0x20);
	words[1] = (uint64_t)graft_preserve_entry;
	words[2] = (uint64_t)replacement;
	words[3] = mask;
	words[4] = size;
	words[5] = restore | ((width | (pass_vectors ? 1 : 0)) << 16) | (8ull << 32);
	memcpy(stub + 0x10, words, sizeof(words));
	caller(stub);
	munmap(stub, 4096);
	return 0;
}

int main(void)
{
	int failures = 0;

	/* A leaf that changes nothing: every register comes back, rax too (the caller loaded 0). */
	if (run(0xfc7, 0))
		return 1;
	printf("leaf: changed=%lu misaligned=%lu stack-argument=%lu rax=0x%lx\n",
	       changed_registers, replacement_misaligned, replacement_stack_argument, returned_rax);
	failures += changed_registers != 0 || replacement_misaligned != 0 ||
		    replacement_stack_argument != 35 || returned_rax != 0;

	/*
	 * An original that returns in rax and xmm0 (and so may change xmm1):
	 * the results come back, and xmm1 is the one register changed.
	 */
	if (run(0xfc6, 1))
		return 1;
	printf("returns: changed=%lu rax=%lu xmm0=%g\n", changed_registers, returned_rax, returned_xmm0);
	failures += returned_rax != 42 || returned_xmm0 != 2.5 || changed_registers != 1;

	printf("%s\n", failures ? "FAIL" : "ok");
	return failures != 0;
}
