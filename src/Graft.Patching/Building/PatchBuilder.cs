namespace Graft.Patching.Building;

/// <summary>
/// Builds a patch from C with the system compiler and the flags a patch needs: position
/// independent, every symbol bound at load time (-z now, so Graft can fill the GOT before any
/// patch code runs), a build-id, graft.h on the include path and libgraft linked.
/// </summary>
/// <param name="places">Where to look for graft's runtime, in order; the first complete one is used.</param>
public sealed class PatchBuilder(IReadOnlyList<GraftRuntime> places)
{
    /// <summary>The runtime of the graft binary that runs: beside it, else where its package installed it.</summary>
    public static PatchBuilder Default { get; } = new(GraftRuntime.Places(AppContext.BaseDirectory));

    public static IReadOnlyList<string> Arguments(GraftRuntime runtime, IEnumerable<string> sources, string output, IEnumerable<string> extra) =>
    [
        "-shared", "-fPIC", "-O2", "-g", "-Wall",
        "-Wl,-z,now", "-Wl,--build-id",
        $"-I{runtime.IncludeDirectory}",
        .. sources,
        "-o", output,
        $"-L{runtime.LibraryDirectory}", $"-Wl,-rpath,{runtime.LibraryDirectory}", "-lgraft",
        .. extra,
    ];

    /// <summary>The first complete place, or one error naming every place looked at.</summary>
    public GraftRuntime Runtime() =>
        places.FirstOrDefault(place => place.IsComplete)
        ?? throw new GraftException(GraftFailure.Internal,
            $"graft's runtime (graft.h, libgraft.so) is missing: looked for {string.Join("; ", places)}; rebuild graft or reinstall its package");

    /// <summary>Runs the compiler; returns its combined output, or throws with it when the build fails.</summary>
    public string Build(IReadOnlyList<string> sources, string output, IEnumerable<string> extra, string compiler = "cc")
    {
        var result = ExternalTool.Run(compiler, Arguments(Runtime(), sources, output, extra), "install gcc");
        return result.ExitCode == 0
            ? result.Output
            : throw new GraftException(GraftFailure.Refused, $"{compiler} failed to build {string.Join(' ', sources)}:\n{result.Output.TrimEnd()}");
    }
}
