namespace Graft.Patching.Tests.Support;

/// <summary>Fixtures/fix.c built with gcc against graft.h into a patch, once for a test class.</summary>
public sealed class PatchLibrary : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-patch-");

    public PatchLibrary()
    {
        FilePath = Path.Combine(directory.FullName, "fix.so");
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        Gcc.Compile("-O2", "-fPIC", "-shared", "-Wl,-z,now", "-Wl,--build-id", $"-I{fixtures}", "-o", FilePath, Path.Combine(fixtures, "fix.c"));
        Bytes = File.ReadAllBytes(FilePath);
    }

    public string FilePath { get; }

    public byte[] Bytes { get; }

    public void Dispose() => directory.Delete(recursive: true);
}
