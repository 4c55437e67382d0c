using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>struct iovec of &lt;sys/uio.h&gt;, for PTRACE_GETREGSET/SETREGSET.</summary>
#pragma warning disable CS8981 // the C name is kept on purpose
[StructLayout(LayoutKind.Sequential)]
internal struct iovec
{
    public nint iov_base;
    public nuint iov_len;
}
#pragma warning restore CS8981
