namespace Graft.IntegrationTests.Support;

/// <summary>Paths in the source tree: the C fixtures and patches built by tests/fixtures/Makefile.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string FixturesOut => Path.Combine(Root, "tests", "fixtures", "out");

    public static string Fixture(string name) => Path.Combine(FixturesOut, name);

    public static string Patch(string name) => Path.Combine(FixturesOut, "patches", name + ".so");

    public static string Runtime => Path.Combine(Root, "runtime", "out");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Graft.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Graft.sln) above the test binaries");
    }
}
