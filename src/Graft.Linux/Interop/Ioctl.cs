using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>ioctl(2) TIOCGWINSZ: the size of a terminal, as the kernel keeps it for the terminal emulator and stty.</summary>
#pragma warning disable CS8981 // the C names are kept on purpose
internal static partial class Ioctl
{
    public const uint TIOCGWINSZ = 0x5413;

    /// <summary>struct winsize of &lt;sys/ioctl.h&gt; (8 bytes); 0 in a member means the size is not known.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct winsize
    {
        public ushort ws_row;
        public ushort ws_col;
        public ushort ws_xpixel;
        public ushort ws_ypixel;
    }

    [LibraryImport(LibC.Name, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, out winsize size);
}
