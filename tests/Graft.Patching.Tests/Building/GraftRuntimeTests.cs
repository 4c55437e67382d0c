using Graft.Patching.Building;

namespace Graft.Patching.Tests.Building;

/// <summary>Where `graft build` finds graft.h and libgraft: beside the binary (a build), else under its prefix (the package).</summary>
public sealed class GraftRuntimeTests : IDisposable
{
    private readonly string prefix = Directory.CreateTempSubdirectory("graft-runtime-").FullName;

    private string Bin => Path.Combine(prefix, "bin");

    [Fact]
    public void TheInstalledLayoutUnderTheBinarysPrefixIsFound()
    {
        Touch("include/graft.h");
        Touch("lib/graft/libgraft.so");

        var runtime = new PatchBuilder(GraftRuntime.Places(Bin)).Runtime();

        Assert.Equal(Path.Combine(prefix, "include"), runtime.IncludeDirectory);
        Assert.Equal(Path.Combine(prefix, "lib", "graft"), runtime.LibraryDirectory);
        Assert.Contains($"-Wl,-rpath,{prefix}/lib/graft", PatchBuilder.Arguments(runtime, ["fix.c"], "fix.so", []));
    }

    [Fact]
    public void TheRuntimeBesideTheBinaryComesFirst()
    {
        Touch("include/graft.h");
        Touch("lib/graft/libgraft.so");
        Touch("bin/runtime/include/graft.h");
        Touch("bin/runtime/lib/libgraft.so");

        Assert.Equal(Path.Combine(Bin, "runtime", "lib"), new PatchBuilder(GraftRuntime.Places(Bin)).Runtime().LibraryDirectory);
    }

    [Fact]
    public void AHalfInstalledRuntimeIsNotUsedAndTheErrorNamesEveryPlace()
    {
        Touch("bin/runtime/include/graft.h");
        Touch("lib/graft/libgraft.so");

        var error = Assert.Throws<GraftException>(() => new PatchBuilder(GraftRuntime.Places(Bin)).Runtime());

        Assert.Contains($"{Bin}/runtime/include/graft.h with {Bin}/runtime/lib/libgraft.so", error.Message);
        Assert.Contains($"{prefix}/include/graft.h with {prefix}/lib/graft/libgraft.so", error.Message);
    }

    public void Dispose() => Directory.Delete(prefix, recursive: true);

    private void Touch(string relative)
    {
        var path = Path.Combine(prefix, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
    }
}
