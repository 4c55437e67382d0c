using Iced.Intel;

using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Internal;

/// <summary>
/// The dispatcher's tail that lets a thread switch its own universe at the entry of a patched function, the way the
/// kernel's tasks switch themselves in klp_update_patch_state. Two ways: Graft's proposal (see
/// <see cref="ThreadTableLayout.EntryProposalOffset"/>), made while the thread slept with a clean stack, holds if the
/// thread has called no patched function since; or the thread looks at its stack itself, which is all its caller's at
/// this moment: when no word of it points into a blocked range (old code while patching, the patch's code while
/// unpatching, and graft's slots), no frame of a function the transition replaces is on it, and the thread takes the
/// goal universe before it goes on.
/// </summary>
/// <remarks>
/// The scan is conservative: every word from rsp to the stack's top counts, return address or not, so a stale word or
/// a function pointer only keeps the thread back for Graft's own sweep to decide, never the reverse. A signal frame on
/// the same stack holds the interrupted pc, so an interrupted function is seen too. The thread does not switch itself
/// when rsp is outside the bounds Graft wrote in its entry, or when it runs on an alternate signal stack (sigaltstack
/// says SS_ONSTACK): its caller's frames are then on another stack. It looks at most once per CheckInterval, so that a
/// thread held back by a frame below does not scan its stack at every call.
/// On entry r10 points at the thread's entry, r10 and r11 are saved in the red zone, and the flags are free; it
/// changes only the entry's universe, proposal, calls and last-check fields, r11 and the flags, then goes on at readEntry. The other
/// registers it needs wait in the red zone below those two (the kernel puts a signal frame below all 128 bytes of it).
/// </remarks>
internal static class SelfSwitchCode
{
    // Time stamp counter ticks of 65,536 cycles (about 25 µs at 2.6 GHz): at most one look every 100 µs or so.
    private const int CheckInterval = 4;
    private const int TimeShift = 16;

    private const int SysSigaltstack = 131;
    private const int SsOnstack = 1;
    private const int StackFlagsOffset = 8;

    private static readonly AssemblerRegister64[] Saved = [rax, rcx, rdx, rsi, rdi, r8, r9];
    private const int FirstSaveOffset = -24;
    private const int AltStackOffset = -104;

    /// <param name="tableHeaderWord">The stub's word that holds the thread table's address.</param>
    /// <param name="readEntry">Where the dispatcher reads the entry's universe and goes on.</param>
    public static void Emit(Assembler assembler, ulong tableHeaderWord, Label readEntry)
    {
        Label noProposal = assembler.CreateLabel();
        Label voidProposal = assembler.CreateLabel();
        Label due = assembler.CreateLabel();
        Label scan = assembler.CreateLabel();
        Label search = assembler.CreateLabel();
        Label lower = assembler.CreateLabel();
        Label searched = assembler.CreateLabel();
        Label clean = assembler.CreateLabel();
        Label restore = assembler.CreateLabel();

        for (var index = 0; index < Saved.Length; index++)
        {
            assembler.mov(__qword_ptr[rsp + SaveOffset(index)], Saved[index]);
        }

        // Graft's proposal for the goal holds while the thread has called no patched function since Graft looked.
        assembler.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.R11, new MemoryOperand(Register.RIP, (long)tableHeaderWord)));
        assembler.movzx(ecx, __byte_ptr[r11 + ThreadTableLayout.SelfSwitchOffset]);
        assembler.cmp(__byte_ptr[r10 + ThreadTableLayout.EntryProposalOffset], cl);
        assembler.jne(noProposal);
        assembler.mov(eax, __dword_ptr[r10 + ThreadTableLayout.EntryProposalCallsOffset]);
        assembler.cmp(eax, __dword_ptr[r10 + ThreadTableLayout.EntryCallsOffset]);
        assembler.jne(voidProposal);
        assembler.dec(ecx);
        assembler.mov(__byte_ptr[r10 + ThreadTableLayout.EntryUniverseOffset], cl);
        assembler.jmp(restore);
        assembler.Label(ref voidProposal);
        assembler.mov(__byte_ptr[r10 + ThreadTableLayout.EntryProposalOffset], 0);

        // This call goes on outside the goal: a proposal Graft makes from what it saw before it is void.
        assembler.Label(ref noProposal);
        assembler.inc(__dword_ptr[r10 + ThreadTableLayout.EntryCallsOffset]);
        assembler.cmp(__byte_ptr[r11 + ThreadTableLayout.ScanOffset], 0);
        assembler.je(restore);

        // Not more often than CheckInterval: eax = bits 16..47 of the counter, or'ed with 1 so that 0 stays "never".
        assembler.rdtsc();
        assembler.shrd(eax, edx, TimeShift);
        assembler.or(eax, 1);
        assembler.mov(ecx, __dword_ptr[r10 + ThreadTableLayout.EntryLastCheckOffset]);
        assembler.test(ecx, ecx);
        assembler.jz(due);
        assembler.mov(edx, eax);
        assembler.sub(edx, ecx);
        assembler.cmp(edx, CheckInterval);
        assembler.jb(restore);
        assembler.Label(ref due);
        assembler.mov(__dword_ptr[r10 + ThreadTableLayout.EntryLastCheckOffset], eax);

        // On its own stack, as Graft found it (0, 0 when Graft does not know it), and not on an alternate signal stack.
        assembler.cmp(rsp, __qword_ptr[r10 + ThreadTableLayout.EntryStackLowOffset]);
        assembler.jb(restore);
        assembler.cmp(rsp, __qword_ptr[r10 + ThreadTableLayout.EntryStackHighOffset]);
        assembler.jae(restore);
        assembler.xor(edi, edi);
        assembler.lea(rsi, __[rsp + AltStackOffset]);
        assembler.mov(eax, SysSigaltstack);
        assembler.syscall();
        assembler.test(rax, rax);
        assembler.jnz(restore);
        assembler.test(__byte_ptr[rsp + AltStackOffset + StackFlagsOffset], SsOnstack);
        assembler.jnz(restore);

        // Every word from rsp (the return address into the caller) to the top, against the sorted ranges.
        assembler.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RCX, new MemoryOperand(Register.RIP, (long)tableHeaderWord)));
        assembler.add(rcx, ThreadTableLayout.RangesOffset);
        assembler.mov(rsi, rsp);
        assembler.mov(rdi, __qword_ptr[r10 + ThreadTableLayout.EntryStackHighOffset]);
        assembler.Label(ref scan);
        assembler.cmp(rsi, rdi);
        assembler.jae(clean);
        assembler.mov(rax, __qword_ptr[rsi]);
        assembler.add(rsi, 8);
        assembler.cmp(rax, __qword_ptr[rcx + 8]);
        assembler.jb(scan);
        assembler.cmp(rax, __qword_ptr[rcx + 16]);
        assembler.jae(scan);

        // Binary search: rdx ends as the number of ranges that start at or below the word.
        assembler.xor(edx, edx);
        assembler.mov(r8, __qword_ptr[rcx]);
        assembler.Label(ref search);
        assembler.cmp(rdx, r8);
        assembler.jae(searched);
        assembler.lea(r9, __[rdx + r8]);
        assembler.shr(r9, 1);
        assembler.mov(r11, r9);
        assembler.shl(r11, 4);
        assembler.cmp(rax, __qword_ptr[rcx + r11 + ThreadTableLayout.RangesHeaderSize]);
        assembler.jb(lower);
        assembler.lea(rdx, __[r9 + 1]);
        assembler.jmp(search);
        assembler.Label(ref lower);
        assembler.mov(r8, r9);
        assembler.jmp(search);
        assembler.Label(ref searched);
        assembler.test(rdx, rdx);
        assembler.jz(scan);
        assembler.mov(r11, rdx);
        assembler.shl(r11, 4);
        assembler.cmp(rax, __qword_ptr[rcx + r11 + (ThreadTableLayout.RangesHeaderSize - 8)]);
        assembler.jb(restore);
        assembler.jmp(scan);

        // Clean: one byte store of the goal as the header says it now (none, if Graft has just turned self-switching
        // off). It pairs with Graft's reads of the entry: Graft reads a thread's entry as final only once the thread is
        // outside every dispatcher, and before it changes the goal, it turns self-switching off and waits until no
        // thread is inside one.
        assembler.Label(ref clean);
        assembler.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.R11, new MemoryOperand(Register.RIP, (long)tableHeaderWord)));
        assembler.movzx(r11d, __byte_ptr[r11 + ThreadTableLayout.SelfSwitchOffset]);
        assembler.test(r11d, r11d);
        assembler.jz(restore);
        assembler.dec(r11d);
        assembler.mov(__byte_ptr[r10 + ThreadTableLayout.EntryUniverseOffset], r11b);

        assembler.Label(ref restore);
        for (var index = 0; index < Saved.Length; index++)
        {
            assembler.mov(Saved[index], __qword_ptr[rsp + SaveOffset(index)]);
        }

        assembler.jmp(readEntry);
    }

    private static int SaveOffset(int index) => FirstSaveOffset - (8 * index);
}
