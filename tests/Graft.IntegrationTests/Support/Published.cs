namespace Graft.IntegrationTests.Support;

/// <summary>
/// The graft and graftd that tests run as processes: the NativeAOT binaries scripts/publish.sh
/// puts in out/, the build that ships. A missing or out-of-date binary fails the test that needs
/// it and says so; the tests never fall back to the JIT build, which would leave the shipped
/// build untested.
/// </summary>
internal static class Published
{
    // Each is built from every project under src/ but the other's.
    private static readonly Lazy<string> GraftBinary = new(() =>
    {
        // Every graft a test runs records its operations in syslog: in the test run's own sink, not the host's.
        SyslogSink.ShareWithEveryGraft();
        return Find("graft", notBuiltFrom: "Graft.Daemon", shipsRuntime: true);
    });
    private static readonly Lazy<string> GraftdBinary = new(() => Find("graftd", notBuiltFrom: "Graft.Cli", shipsRuntime: false));

    public static string Graft => GraftBinary.Value;

    public static string Graftd => GraftdBinary.Value;

    private static string Out => Path.Combine(Repository.Root, "out");

    private static string Find(string name, string notBuiltFrom, bool shipsRuntime)
    {
        var binary = Path.Combine(Out, name);
        if (!File.Exists(binary))
        {
            throw new FileNotFoundException($"{binary} does not exist: the integration tests run the NativeAOT build; run scripts/publish.sh first (./test.sh does)", binary);
        }

        // dotnet test rebuilds the JIT assemblies from the current sources but never republishes:
        // a binary older than one of its sources would test other code than the tree's.
        var published = File.GetLastWriteTimeUtc(binary);
        if (Sources(notBuiltFrom).FirstOrDefault(source => File.GetLastWriteTimeUtc(source) > published) is { } newer)
        {
            throw new InvalidOperationException($"{binary} is older than {Path.GetRelativePath(Repository.Root, newer)}: run scripts/publish.sh first (./test.sh does)");
        }

        // graft build uses the runtime shipped next to graft, which make may have rebuilt since.
        foreach (var shipped in shipsRuntime ? [Path.Combine("include", "graft.h"), Path.Combine("lib", "libgraft.so")] : Array.Empty<string>())
        {
            var copy = Path.Combine(Out, "runtime", shipped);
            if (!File.Exists(copy) || File.GetLastWriteTimeUtc(copy) < File.GetLastWriteTimeUtc(Path.Combine(Repository.Runtime, shipped)))
            {
                throw new InvalidOperationException($"{copy} is missing or older than runtime/out/{shipped}: run scripts/publish.sh first (./test.sh does)");
            }
        }

        return binary;
    }

    /// <summary>The files under src/ but build output and the project <paramref name="excluded"/>, and the shared build settings.</summary>
    private static IEnumerable<string> Sources(string excluded)
    {
        var src = Path.Combine(Repository.Root, "src");
        return Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories)
            .Where(file => Path.GetRelativePath(src, file).Split(Path.DirectorySeparatorChar) is var parts
                && parts[0] != excluded && !parts.Any(part => part is "bin" or "obj"))
            .Append(Path.Combine(Repository.Root, "Directory.Build.props"));
    }
}
