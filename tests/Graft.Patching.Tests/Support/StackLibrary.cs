namespace Graft.Patching.Tests.Support;

/// <summary>Fixtures/stack.c built with gcc -O2 into a shared library, once for a test class.</summary>
public sealed class StackLibrary : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-unwind-");

    public StackLibrary()
    {
        FilePath = Path.Combine(directory.FullName, "libstack.so");
        Gcc.Compile("-O2", "-fPIC", "-shared", "-fcf-protection=none", "-o", FilePath, Path.Combine(AppContext.BaseDirectory, "Fixtures", "stack.c"));
    }

    public string FilePath { get; }

    public void Dispose() => directory.Delete(recursive: true);
}
