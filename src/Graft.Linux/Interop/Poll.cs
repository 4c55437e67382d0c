using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>poll(2) on one descriptor: waiting until a non-blocking descriptor can be written again.</summary>
#pragma warning disable CS8981 // the C names are kept on purpose
internal static partial class Poll
{
    public const short POLLOUT = 0x4;

    /// <summary>struct pollfd of &lt;poll.h&gt; (8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct pollfd
    {
        public int fd;
        public short events;
        public short revents;
    }

    /// <summary><paramref name="timeout"/> in milliseconds, -1 for none.</summary>
    [LibraryImport(LibC.Name, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(ref pollfd fds, nuint nfds, int timeout);
}
