using System.Diagnostics;

namespace Graft.Patching.Tests.Support;

/// <summary>Fixtures/stack.c built with gcc -O2 into a shared library, once for a test class.</summary>
public sealed class StackLibrary : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-unwind-");

    public StackLibrary()
    {
        FilePath = Path.Combine(directory.FullName, "libstack.so");
        var gcc = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        var source = Path.Combine(AppContext.BaseDirectory, "Fixtures", "stack.c");
        foreach (var argument in (string[])["-O2", "-fPIC", "-shared", "-fcf-protection=none", "-o", FilePath, source])
        {
            gcc.ArgumentList.Add(argument);
        }

        using var process = Process.Start(gcc) ?? throw new InvalidOperationException("cannot start gcc");
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"gcc failed: {errors}");
    }

    public string FilePath { get; }

    public void Dispose() => directory.Delete(recursive: true);
}
