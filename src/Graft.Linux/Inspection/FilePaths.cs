using System.Runtime.InteropServices;
using Graft.Linux.Interop;

namespace Graft.Linux.Inspection;

/// <summary>File paths as the kernel shows them in /proc/&lt;pid&gt;/maps: absolute, with every symbolic link resolved.</summary>
public static class FilePaths
{
    public static string Canonical(string path)
    {
        var resolved = Files.realpath(path, 0);
        if (resolved == 0)
        {
            throw ErrnoException.FromLastError($"realpath({path})");
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            Files.free(resolved);
        }
    }
}
