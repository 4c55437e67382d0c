namespace Graft.IntegrationTests.Support;

/// <summary>
/// /etc/ld.so.preload as it was before a test that runs graftd's exec hook, put back exactly
/// (content, or absence) when the test ends, however it ends: every process of the machine reads it.
/// </summary>
internal sealed class PreloadGuard : IDisposable
{
    public const string Path = "/etc/ld.so.preload";

    private readonly byte[]? before = File.Exists(Path) ? File.ReadAllBytes(Path) : null;

    /// <summary>The entries it has now, one a line.</summary>
    public static IReadOnlyList<string> Entries() => File.Exists(Path) ? File.ReadAllLines(Path) : [];

    public void Dispose()
    {
        if (before is null)
        {
            File.Delete(Path);
        }
        else
        {
            File.WriteAllBytes(Path, before);
        }
    }
}
