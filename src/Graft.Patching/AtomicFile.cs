using System.Runtime.Versioning;

namespace Graft.Patching;

/// <summary>
/// Files replaced whole (graftd's host-wide list, the hook file, /etc/ld.so.preload, a patch
/// graft sign signs): written beside their place, then renamed over it, so that a reader (a
/// process starting, a graftd starting after a crash, a graft apply) sees the old file or the
/// new one, never a part of one.
/// </summary>
[SupportedOSPlatform("linux")]
public static class AtomicFile
{
    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static void Write(string path, string text) => Write(path, Readable, stream =>
    {
        using var writer = new StreamWriter(stream, leaveOpen: true);
        writer.Write(text);
    });

    public static void Write(string path, byte[] bytes, UnixFileMode mode) => Write(path, mode, stream => stream.Write(bytes));

    public static void Copy(string source, string path) => Write(path, Readable, stream =>
    {
        using var input = File.OpenRead(source);
        input.CopyTo(stream);
    });

    private static void Write(string path, UnixFileMode mode, Action<Stream> fill)
    {
        var temporary = $"{path}.{Environment.ProcessId}.new";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fill(stream);
                // On disk before the rename makes it the file: after a crash, the old file or the whole new one.
                stream.Flush(flushToDisk: true);
            }

            // Readable by every process that starts (the hook file, ld.so.preload) and by targets' dlopen (patch copies).
            File.SetUnixFileMode(temporary, mode);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
