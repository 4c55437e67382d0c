using Graft.Patching;

namespace Graft.Daemon;

/// <summary>
/// /etc/ld.so.preload, where graftd lists its exec hook while patches are enabled host-wide. It
/// is the host's file, not graftd's: other entries are left as they are, and the file is removed
/// only when graftd's entry was the last thing in it.
/// </summary>
internal static class PreloadFile
{
    public const string Path = "/etc/ld.so.preload";

    public static void Add(string library)
    {
        var lines = Read();
        if (!lines.Contains(library))
        {
            Write([.. lines, library]);
        }
    }

    public static void Remove(string library)
    {
        var lines = Read();
        if (lines.Contains(library))
        {
            Write([.. lines.Where(l => l != library)]);
        }
    }

    private static List<string> Read() => File.Exists(Path) ? [.. File.ReadAllLines(Path)] : [];

    private static void Write(List<string> lines)
    {
        if (lines.All(string.IsNullOrWhiteSpace))
        {
            File.Delete(Path);
            return;
        }

        AtomicFile.Write(Path, string.Concat(lines.Select(l => l + "\n")));
    }
}
