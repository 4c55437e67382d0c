namespace Graft.Patching.Building.FromDiff;

/// <summary>An object file of the project as the original and as the patched source build it.</summary>
public sealed record ObjectPair(string RelativePath, string Original, string Patched);

/// <summary>
/// Builds the project twice, from two copies of its source under a work directory: as it is, and
/// with the diff applied. Each build runs the user's build command with the compiler wrapped so
/// that every function and data object gets its own section (-ffunction-sections
/// -fdata-sections, as kpatch-build builds), which is what lets the two builds be compared
/// function by function. The wrapper also maps both copies' paths onto the source's own path, so
/// that __FILE__ and the like do not differ between them.
/// </summary>
public sealed class SourceBuild(string source, string workDirectory, string buildCommand)
{
    private static readonly string[] WrappedCompilers = ["cc", "gcc"];

    public string OriginalTree => Path.Combine(workDirectory, "original");

    public string PatchedTree => Path.Combine(workDirectory, "patched");

    /// <summary>Copies, patches and builds; returns the object files both builds made, by path.</summary>
    /// <exception cref="GraftException">Refused: the diff does not apply, or a build fails.</exception>
    public IReadOnlyList<ObjectPair> Run(string diff)
    {
        Copy(OriginalTree);
        Copy(PatchedTree);
        var applied = ExternalTool.Run("patch", ["-p1", "--batch", "--forward", "-d", PatchedTree, "-i", Path.GetFullPath(diff)], "install patch");
        if (applied.ExitCode != 0)
        {
            throw new GraftException(GraftFailure.Refused, $"the diff {diff} does not apply to {source} (patch -p1):\n{applied.Output.TrimEnd()}");
        }

        Build(OriginalTree, "original");
        Build(PatchedTree, "patched");
        return [.. Directory.EnumerateFiles(PatchedTree, "*.o", SearchOption.AllDirectories)
            .Select(patched => Path.GetRelativePath(PatchedTree, patched))
            .Where(relative => File.Exists(Path.Combine(OriginalTree, relative)))
            .Order(StringComparer.Ordinal)
            .Select(relative => new ObjectPair(relative, Path.Combine(OriginalTree, relative), Path.Combine(PatchedTree, relative)))];
    }

    private void Copy(string tree)
    {
        if (Directory.Exists(tree))
        {
            Directory.Delete(tree, recursive: true);
        }

        Directory.CreateDirectory(workDirectory);
        var copied = ExternalTool.Run("cp", ["-a", Path.GetFullPath(source) + "/.", tree], "install coreutils");
        if (copied.ExitCode != 0)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot copy {source} to {tree}:\n{copied.Output.TrimEnd()}");
        }

        // Objects left in the source from an earlier build would keep make from compiling them again, the way the comparison needs.
        foreach (var stale in Directory.EnumerateFiles(tree, "*.o", SearchOption.AllDirectories))
        {
            File.Delete(stale);
        }
    }

    private void Build(string tree, string which)
    {
        var wrappers = Path.Combine(workDirectory, $"{which}-compilers");
        Directory.CreateDirectory(wrappers);
        foreach (var compiler in WrappedCompilers)
        {
            var real = FindOnPath(compiler) ?? throw new GraftException(GraftFailure.Internal, $"no '{compiler}' on PATH (install gcc)");
            var wrapper = Path.Combine(wrappers, compiler);
            File.WriteAllText(wrapper,
                $"#!/bin/sh\nexec '{real}' \"$@\" -ffunction-sections -fdata-sections '-ffile-prefix-map={tree}={Path.GetFullPath(source)}'\n");
            ExternalTool.Run("chmod", ["+x", wrapper], "install coreutils");
        }

        var path = $"{wrappers}:{Environment.GetEnvironmentVariable("PATH")}";
        var built = ExternalTool.Run("/bin/sh", ["-c", buildCommand], "install a POSIX shell", tree,
            new Dictionary<string, string> { ["PATH"] = path, ["CC"] = "cc" });
        if (built.ExitCode != 0)
        {
            var tail = string.Join('\n', built.Output.TrimEnd().Split('\n').TakeLast(30));
            throw new GraftException(GraftFailure.Refused, $"the {which} source does not build with '{buildCommand}' (in {tree}):\n{tail}");
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
