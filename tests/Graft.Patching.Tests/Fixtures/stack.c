/* A thread's stack for StackUnwinderTests: outer calls middle, which calls leaf, which sits in a
   system call. Built with gcc -O2 -fPIC -shared -fcf-protection=none; the test checks the code it
   relies on. */

/* mov eax, 24 (sched_yield); syscall; ret */
__attribute__((noinline)) void leaf(void)
{
    __asm__ volatile("mov $24, %%eax\n\tsyscall" ::: "rax", "rcx", "r11", "memory");
}

/* push rbx; mov rbx, rdi; call leaf@plt; mov rax, rbx; pop rbx; ret: x is kept in rbx across the
   call, so middle's unwind rules save rbx as well as the return address. */
__attribute__((noinline)) long middle(long x)
{
    leaf();
    return x;
}

/* Where the stack ends, as glibc's _start marks it: the return address is undefined. */
__asm__(".globl outer\n"
        ".type outer, @function\n"
        "outer:\n"
        "\t.cfi_startproc\n"
        "\t.cfi_undefined rip\n"
        "\txor %ebp, %ebp\n"
        "\tcall middle\n"
        "\thlt\n"
        "\t.cfi_endproc\n"
        ".size outer, .-outer\n");

/* As glibc's vfork: the return address is popped into rdi around the system call, so the stack
   pointer at the syscall is the caller's own (pop rdi; mov eax, 24; syscall; push rdi; ret). */
__asm__(".globl popped\n"
        ".type popped, @function\n"
        "popped:\n"
        "\t.cfi_startproc\n"
        "\tpopq %rdi\n"
        "\t.cfi_adjust_cfa_offset -8\n"
        "\t.cfi_register rip, rdi\n"
        "\tmovl $24, %eax\n"
        "\tsyscall\n"
        "\tpushq %rdi\n"
        "\t.cfi_adjust_cfa_offset 8\n"
        "\tret\n"
        "\t.cfi_endproc\n"
        ".size popped, .-popped\n");
