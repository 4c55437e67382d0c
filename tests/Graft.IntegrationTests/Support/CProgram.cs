namespace Graft.IntegrationTests.Support;

/// <summary>A C source of this test project compiled by gcc into a temporary directory, deleted on dispose.</summary>
internal sealed class CProgram : IDisposable
{
    private readonly DirectoryInfo directory;

    private CProgram(DirectoryInfo directory, string path)
    {
        this.directory = directory;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Compiles tests/Graft.IntegrationTests/<paramref name="source"/> with the given gcc flags.</summary>
    public static CProgram Compile(string source, params string[] flags)
    {
        var sourcePath = System.IO.Path.Combine(Repository.Root, "tests", "Graft.IntegrationTests", source);
        var directory = Directory.CreateTempSubdirectory("graft-test-c-");
        var output = System.IO.Path.Combine(directory.FullName, System.IO.Path.GetFileNameWithoutExtension(sourcePath));
        var result = Shell.Run("gcc", [.. flags, "-o", output, sourcePath]);
        if (result.ExitCode != 0)
        {
            directory.Delete(recursive: true);
            throw new InvalidOperationException($"gcc could not build {sourcePath}:\n{result.Stderr}");
        }

        return new CProgram(directory, output);
    }

    /// <summary>Runs the program to completion and returns what it printed; it must succeed.</summary>
    public string Run()
    {
        var result = Shell.Run(Path);
        Assert.True(result.ExitCode == 0, $"{Path} exited with {result.ExitCode}:\n{result.Stderr}");
        return result.Stdout;
    }

    public void Dispose() => directory.Delete(recursive: true);
}
