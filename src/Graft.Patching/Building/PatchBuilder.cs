namespace Graft.Patching.Building;

/// <summary>
/// Builds a patch from C with the system compiler and the flags a patch needs: position
/// independent, every symbol bound at load time (-z now, so Graft can fill the GOT before any
/// patch code runs), a build-id, graft.h on the include path and libgraft linked.
/// </summary>
public sealed class PatchBuilder(string runtimeDirectory)
{
    /// <summary>The runtime next to the graft binary: include/graft.h and lib/libgraft.so.</summary>
    public static PatchBuilder Default { get; } = new(Path.Combine(AppContext.BaseDirectory, "runtime"));

    public string IncludeDirectory => Path.Combine(runtimeDirectory, "include");

    public string LibraryDirectory => Path.Combine(runtimeDirectory, "lib");

    public IReadOnlyList<string> Arguments(IEnumerable<string> sources, string output, IEnumerable<string> extra) =>
    [
        "-shared", "-fPIC", "-O2", "-g", "-Wall",
        "-Wl,-z,now", "-Wl,--build-id",
        $"-I{IncludeDirectory}",
        .. sources,
        "-o", output,
        $"-L{LibraryDirectory}", $"-Wl,-rpath,{LibraryDirectory}", "-lgraft",
        .. extra,
    ];

    /// <summary>Runs the compiler; returns its combined output, or throws with it when the build fails.</summary>
    public string Build(IReadOnlyList<string> sources, string output, IEnumerable<string> extra, string compiler = "cc")
    {
        if (!File.Exists(Path.Combine(IncludeDirectory, "graft.h")) || !File.Exists(Path.Combine(LibraryDirectory, "libgraft.so")))
        {
            throw new GraftException(GraftFailure.Internal, $"graft's runtime (graft.h, libgraft.so) is missing under {runtimeDirectory}; rebuild graft");
        }

        var result = ExternalTool.Run(compiler, Arguments(sources, output, extra), "install gcc");
        return result.ExitCode == 0
            ? result.Output
            : throw new GraftException(GraftFailure.Refused, $"{compiler} failed to build {string.Join(' ', sources)}:\n{result.Output.TrimEnd()}");
    }
}
