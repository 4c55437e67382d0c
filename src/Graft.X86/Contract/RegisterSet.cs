using Iced.Intel;

namespace Graft.X86.Contract;

/// <summary>
/// A set of the registers a callee may change under the System V ABI (the caller-saved ones): the general registers
/// rax, rcx, rdx, rsi, rdi and r8..r11, the 32 vector registers (xmm, ymm and zmm are one register each, as gcc counts
/// them), the 8 AVX-512 mask registers, and the x87/MMX stack as one.
/// </summary>
public readonly record struct RegisterSet(ulong Bits)
{
    // General registers by their encoding number (rax 0 ... r15 15), vectors from 16, masks from 48, x87 at 56.
    private const int VectorBase = 16;
    private const int MaskBase = 48;
    private const int X87Bit = 56;

    private static readonly string[] GeneralNames =
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

    /// <summary>rax, rcx, rdx, rsi, rdi, r8, r9, r10, r11.</summary>
    public static RegisterSet GeneralCallerSaved { get; } = new(0b0000_1111_1100_0111);

    public static RegisterSet Vectors { get; } = new(0xFFFF_FFFFUL << VectorBase);

    public static RegisterSet Masks { get; } = new(0xFFUL << MaskBase);

    public static RegisterSet X87 { get; } = new(1UL << X87Bit);

    /// <summary>Everything a call the analysis cannot follow may change.</summary>
    public static RegisterSet CallerSaved { get; } = GeneralCallerSaved | Vectors | Masks | X87;

    /// <summary>The vector registers that carry a return value: xmm0 and xmm1 (and their wider forms).</summary>
    public static RegisterSet VectorReturn { get; } = new(0b11UL << VectorBase);

    public bool IsEmpty => Bits == 0;

    /// <summary>The general registers as a mask of their encoding numbers (bit 0 rax, bit 1 rcx, ...).</summary>
    public ulong GeneralBits => Bits & 0xFFFF;

    public bool Overlaps(RegisterSet other) => (Bits & other.Bits) != 0;

    public RegisterSet Except(RegisterSet other) => new(Bits & ~other.Bits);

    public static RegisterSet operator |(RegisterSet left, RegisterSet right) => new(left.Bits | right.Bits);

    public static RegisterSet operator &(RegisterSet left, RegisterSet right) => new(left.Bits & right.Bits);

    /// <summary>The caller-saved register <paramref name="register"/> is part of; empty for any other register.</summary>
    public static RegisterSet Of(Register register)
    {
        Register full = register.GetFullRegister();
        ulong bit = full switch
        {
            _ when full.IsGPR64() => 1UL << (full - Register.RAX),
            _ when full.IsZMM() => 1UL << (VectorBase + (full - Register.ZMM0)),
            _ when full.IsK() => 1UL << (MaskBase + (full - Register.K0)),
            _ when full.IsST() || full.IsMM() => 1UL << X87Bit,
            _ => 0,
        };
        return new RegisterSet(bit) & CallerSaved;
    }

    /// <summary>Register names, vectors as ranges: "rax rsi r10 xmm0-15 k0-7 st".</summary>
    public override string ToString() => string.Join(' ', Names());

    public IEnumerable<string> Names()
    {
        for (int index = 0; index < 16; index++)
        {
            if ((Bits & (1UL << index)) != 0)
            {
                yield return GeneralNames[index];
            }
        }

        foreach (string range in Ranges(VectorBase, 32, "xmm"))
        {
            yield return range;
        }

        foreach (string range in Ranges(MaskBase, 8, "k"))
        {
            yield return range;
        }

        if (Overlaps(X87))
        {
            yield return "st";
        }
    }

    private IEnumerable<string> Ranges(int firstBit, int count, string prefix)
    {
        int index = 0;
        while (index < count)
        {
            if ((Bits & (1UL << (firstBit + index))) == 0)
            {
                index++;
                continue;
            }

            int end = index;
            while (end + 1 < count && (Bits & (1UL << (firstBit + end + 1))) != 0)
            {
                end++;
            }

            yield return end == index ? $"{prefix}{index}" : $"{prefix}{index}-{end}";
            index = end + 1;
        }
    }
}
