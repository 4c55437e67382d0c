using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>A failed system call: which call, on what, and the errno the kernel gave.</summary>
public sealed class ErrnoException : Exception
{
    public ErrnoException(string call, int errno)
        : base($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} ({Interop.Errno.Name(errno)})")
    {
        Call = call;
        Errno = errno;
    }

    public string Call { get; }

    public int Errno { get; }

    /// <summary>Throws for the errno of the last P/Invoke made with SetLastError.</summary>
    public static ErrnoException FromLastError(string call) => new(call, Marshal.GetLastPInvokeError());
}
