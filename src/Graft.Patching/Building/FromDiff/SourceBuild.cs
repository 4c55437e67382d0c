namespace Graft.Patching.Building.FromDiff;

/// <summary>An object file of the project as the original and as the patched source build it.</summary>
public sealed record ObjectPair(string RelativePath, string Original, string Patched);

/// <summary>
/// Builds the project twice in one copy of its source under a work directory: as it is, then, once its object
/// files are kept aside, with the diff applied, as kpatch-build does. The second build is the user's build
/// command run again, so it recompiles only what the diff changed (and what depends on it, as far as the build
/// knows). Each build runs with the compiler wrapped so that every function and data object gets its own section
/// (-ffunction-sections -fdata-sections), which is what lets the two builds be compared function by function.
/// The wrapper also maps the copy's path onto the source's own path, as the binary's build saw it.
/// </summary>
public sealed class SourceBuild(string source, string workDirectory, string buildCommand)
{
    private static readonly string[] WrappedCompilers = ["cc", "gcc"];

    /// <summary>The copy of the source, built as it is and then as the diff makes it.</summary>
    public string Tree => Path.Combine(workDirectory, "tree");

    /// <summary>The object files of the first build, by their paths in the tree.</summary>
    public string OriginalObjects => Path.Combine(workDirectory, "original");

    /// <summary>Copies, builds, patches and builds again; returns the object files both builds made, by path.</summary>
    /// <exception cref="GraftException">Refused: the diff does not apply, or a build fails.</exception>
    public IReadOnlyList<ObjectPair> Run(string diff)
    {
        // Whether the diff applies is known before minutes go into the first build: it is applied to a scratch copy
        // (patch --dry-run would check a diff that patches a file twice, as concatenated diffs do, against the file unpatched).
        var scratch = Path.Combine(workDirectory, "scratch");
        Copy(scratch);
        Patch(scratch, diff);
        Directory.Delete(scratch, recursive: true);

        Copy(Tree);
        Build("original");
        KeepOriginalObjects();
        Patch(Tree, diff);
        Build("patched");
        return [.. Directory.EnumerateFiles(Tree, "*.o", SearchOption.AllDirectories)
            .Select(patched => Path.GetRelativePath(Tree, patched))
            .Where(relative => File.Exists(Path.Combine(OriginalObjects, relative)))
            .Order(StringComparer.Ordinal)
            .Select(relative => new ObjectPair(relative, Path.Combine(OriginalObjects, relative), Path.Combine(Tree, relative)))];
    }

    private void Patch(string tree, string diff)
    {
        var applied = ExternalTool.Run("patch", ["-p1", "--batch", "--forward", "-d", tree, "-i", Path.GetFullPath(diff)], "install patch");
        if (applied.ExitCode != 0)
        {
            throw new GraftException(GraftFailure.Refused, $"the diff {diff} does not apply to {source} (patch -p1):\n{applied.Output.TrimEnd()}");
        }
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

    private void KeepOriginalObjects()
    {
        foreach (var built in Directory.EnumerateFiles(Tree, "*.o", SearchOption.AllDirectories))
        {
            var kept = Path.Combine(OriginalObjects, Path.GetRelativePath(Tree, built));
            Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
            File.Copy(built, kept);
        }
    }

    private void Build(string which)
    {
        var wrappers = Path.Combine(workDirectory, "compilers");
        Directory.CreateDirectory(wrappers);
        foreach (var compiler in WrappedCompilers)
        {
            var real = FindOnPath(compiler) ?? throw new GraftException(GraftFailure.Internal, $"no '{compiler}' on PATH (install gcc)");
            var wrapper = Path.Combine(wrappers, compiler);
            File.WriteAllText(wrapper,
                $"#!/bin/sh\nexec '{real}' \"$@\" -ffunction-sections -fdata-sections '-ffile-prefix-map={Tree}={Path.GetFullPath(source)}'\n");
            ExternalTool.Run("chmod", ["+x", wrapper], "install coreutils");
        }

        var path = $"{wrappers}:{Environment.GetEnvironmentVariable("PATH")}";
        var built = ExternalTool.Run("/bin/sh", ["-c", buildCommand], "install a POSIX shell", Tree,
            new Dictionary<string, string> { ["PATH"] = path, ["CC"] = "cc" });
        if (built.ExitCode != 0)
        {
            var tail = string.Join('\n', built.Output.TrimEnd().Split('\n').TakeLast(30));
            throw new GraftException(GraftFailure.Refused, $"the {which} source does not build with '{buildCommand}' (in {Tree}):\n{tail}");
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
