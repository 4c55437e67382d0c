using System.Runtime.InteropServices;

namespace Graft.X86.Tests.Native;

/// <summary>An anonymous private mapping in the test process: written while read-write, then made executable to run.</summary>
internal sealed unsafe class MappedMemory : IDisposable
{
    private readonly nint _address;
    private readonly nuint _length;

    public MappedMemory(int length)
    {
        _length = (nuint)length;
        _address = Mman.Map(0, _length, Mman.ProtRead | Mman.ProtWrite, Mman.MapPrivate | Mman.MapAnonymous, -1, 0);
        if (_address == Mman.MapFailed)
        {
            throw new InvalidOperationException($"mmap of {length} bytes failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public ulong Address => (ulong)_address;

    /// <summary>Zero-filled at first, as every anonymous mapping.</summary>
    public Span<byte> Bytes => new((void*)_address, (int)_length);

    /// <summary>W^X: the code is written first, then the mapping turns read-execute.</summary>
    public void MakeExecutable()
    {
        if (Mman.Protect(_address, _length, Mman.ProtRead | Mman.ProtExec) != 0)
        {
            throw new InvalidOperationException($"mprotect to r-x failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        Mman.Unmap(_address, _length);
    }
}
