using System.Diagnostics;

namespace Graft.Patching.Tests.Support;

/// <summary>Fixtures/fix.c built with gcc against graft.h into a patch, once for a test class.</summary>
public sealed class PatchLibrary : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-patch-");

    public PatchLibrary()
    {
        FilePath = Path.Combine(directory.FullName, "fix.so");
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var gcc = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        foreach (var argument in (string[])["-O2", "-fPIC", "-shared", "-Wl,-z,now", "-Wl,--build-id", $"-I{fixtures}", "-o", FilePath, Path.Combine(fixtures, "fix.c")])
        {
            gcc.ArgumentList.Add(argument);
        }

        using var process = Process.Start(gcc) ?? throw new InvalidOperationException("cannot start gcc");
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"gcc failed: {errors}");
        Bytes = File.ReadAllBytes(FilePath);
    }

    public string FilePath { get; }

    public byte[] Bytes { get; }

    public void Dispose() => directory.Delete(recursive: true);
}
