namespace Graft.Patching.Building;

/// <summary>
/// Where graft.h and the runtime libraries (libgraft.so) are: <paramref name="IncludeDirectory"/>
/// holds graft.h, <paramref name="LibraryDirectory"/> the libraries, which patches link with an
/// rpath to it.
/// </summary>
public sealed record GraftRuntime(string IncludeDirectory, string LibraryDirectory)
{
    /// <summary>Both files are there.</summary>
    public bool IsComplete =>
        File.Exists(Path.Combine(IncludeDirectory, "graft.h")) && File.Exists(Path.Combine(LibraryDirectory, "libgraft.so"));

    /// <summary>
    /// The places a graft binary in <paramref name="binaryDirectory"/> looks, in order: runtime/
    /// beside it (scripts/publish.sh's out/, a build tree), then the installed layout under the
    /// binary's prefix, as the Debian package puts it (/usr/bin/graft: /usr/include/graft.h and
    /// /usr/lib/graft/libgraft.so, a private directory: patches find it by their rpath).
    /// </summary>
    public static IReadOnlyList<GraftRuntime> Places(string binaryDirectory)
    {
        var beside = Path.Combine(binaryDirectory, "runtime");
        var prefix = Path.GetFullPath(Path.Combine(binaryDirectory, ".."));
        return
        [
            new(Path.Combine(beside, "include"), Path.Combine(beside, "lib")),
            new(Path.Combine(prefix, "include"), Path.Combine(prefix, "lib", "graft")),
        ];
    }

    public override string ToString() => $"{IncludeDirectory}/graft.h with {LibraryDirectory}/libgraft.so";
}
