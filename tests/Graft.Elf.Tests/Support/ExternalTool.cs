using System.Diagnostics;

namespace Graft.Elf.Tests.Support;

/// <summary>Runs the binutils and gcc on this machine, whose output the tests take as the reference.</summary>
internal static class ExternalTool
{
    public static bool Exists(string tool)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        return path is not null && path.Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));
    }

    public static string Run(string tool, params string[] arguments) => Run(tool, requireSuccess: true, arguments);

    /// <param name="requireSuccess">False for commands that report a failure in their exit code and still
    /// print a complete answer (readelf 2.40 exits 1 after dumping libc's frames, printing no error).</param>
    public static string Run(string tool, bool requireSuccess, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["LC_ALL"] = "C";
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (requireSuccess && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error.Result}");
        }

        return output;
    }
}
