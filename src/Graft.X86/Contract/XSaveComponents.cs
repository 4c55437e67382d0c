using System.Runtime.Intrinsics.X86;

namespace Graft.X86.Contract;

/// <summary>
/// The XSAVE components that hold this machine's vector and mask registers (SSE, AVX, and AVX-512's opmask, ZMM_Hi256 and
/// Hi16_ZMM), the standard-format area they need, and how wide a vector register is. A target runs on the same machine
/// as Graft, and Linux enables every one of them for every process.
/// </summary>
public sealed record XSaveComponents(ulong Mask, int AreaSize, ulong WidthFlag)
{
    private const int LegacyAndHeaderSize = 576;
    private const ulong YmmWidthFlag = 2;
    private const ulong ZmmWidthFlag = 4;

    public static XSaveComponents ForThisMachine { get; } = Read();

    // SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7): not x87 (empty at every call), MPX or AMX.
    private const ulong VectorComponents = 0xE6;

    private static XSaveComponents Read()
    {
        // CPUID leaf 0xD, sub-leaf 0, EAX: the components the processor supports in XCR0. Asked directly rather than
        // through the runtime's IsSupported flags, which a runtime setting can turn off while the target uses them.
        (int supported, _, _, _) = X86Base.CpuId(0xd, 0);
        ulong mask = (ulong)(uint)supported & VectorComponents;
        ulong width = (mask & 0xE0) != 0 ? ZmmWidthFlag : (mask & 4) != 0 ? YmmWidthFlag : 0;
        int end = LegacyAndHeaderSize;
        for (int component = 2; component < 8; component++)
        {
            if ((mask & (1UL << component)) != 0)
            {
                (int size, int offset, _, _) = X86Base.CpuId(0xd, component);
                end = Math.Max(end, offset + size);
            }
        }

        return new XSaveComponents(mask, (end + 63) & ~63, width);
    }
}
