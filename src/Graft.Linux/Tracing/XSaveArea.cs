using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;

namespace Graft.Linux.Tracing;

/// <summary>
/// Turns a thread's XSAVE area, as PTRACE_GETREGSET(NT_X86_XSTATE) gives it (standard format),
/// into the fpstate of a signal frame that rt_sigreturn accepts: the kernel checks the software
/// bytes in the FXSAVE area's reserved tail and a second magic word right after the state
/// (arch/x86/kernel/fpu/signal.c, check_xstate_in_sigframe).
/// </summary>
internal static class XSaveArea
{
    private const int SoftwareBytesOffset = 464;
    private const int HeaderOffset = 512;
    private const int MinimumSize = 576;
    private const uint Magic1 = 0x46505853;
    private const uint Magic2 = 0x46505845;

    /// <summary>The fpstate bytes: the state up to its last component in use, then the second magic word.</summary>
    public static byte[] ToSignalFrameState(byte[] xsave)
    {
        var inUse = BinaryPrimitives.ReadUInt64LittleEndian(xsave.AsSpan(HeaderOffset));
        var size = SizeFor(inUse);
        if (size > xsave.Length)
        {
            throw new InjectionException($"the thread's XSAVE area is {xsave.Length} bytes, its components in use end at {size}");
        }

        // Components not in use are in their initial state: restoring only the ones in use, with
        // everything else initialised, gives back the same state. It also keeps the size within
        // what this process may use (AMX tiles only count when the process asked for them).
        var state = new byte[size + 4];
        xsave.AsSpan(0, size).CopyTo(state);
        var software = state.AsSpan(SoftwareBytesOffset, 48);
        software.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(software, Magic1);
        BinaryPrimitives.WriteUInt32LittleEndian(software[4..], (uint)size + 4);
        BinaryPrimitives.WriteUInt64LittleEndian(software[8..], inUse | 3);
        BinaryPrimitives.WriteUInt32LittleEndian(software[16..], (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(state.AsSpan(size), Magic2);
        return state;
    }

    /// <summary>Where, in the standard format, the last of the given components ends (CPUID leaf 0xD).</summary>
    private static int SizeFor(ulong components)
    {
        var size = MinimumSize;
        for (var component = 2; component < 64; component++)
        {
            if ((components & (1UL << component)) != 0)
            {
                var (length, offset, _, _) = X86Base.CpuId(0xd, component);
                size = Math.Max(size, offset + length);
            }
        }

        return size;
    }
}
