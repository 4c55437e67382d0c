using System.Diagnostics;

namespace Graft.Patching.Tests.Support;

/// <summary>gcc run to completion on a fixture; a compile error fails the test with gcc's message.</summary>
internal static class Gcc
{
    public static void Compile(params string[] arguments)
    {
        var gcc = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            gcc.ArgumentList.Add(argument);
        }

        using var process = Process.Start(gcc) ?? throw new InvalidOperationException("cannot start gcc");
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"gcc failed: {errors}");
    }
}
