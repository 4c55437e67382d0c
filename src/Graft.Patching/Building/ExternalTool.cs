using System.Diagnostics;

namespace Graft.Patching.Building;

/// <summary>Runs a program of the build (the compiler, make, patch) to completion and captures what it printed.</summary>
internal static class ExternalTool
{
    public sealed record Result(int ExitCode, string Output);

    /// <exception cref="GraftException">The program cannot be started; <paramref name="missing"/> says what to install.</exception>
    public static Result Run(string program, IEnumerable<string> arguments, string missing,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null, string? input = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new GraftException(GraftFailure.Internal, $"cannot run '{program}': {e.Message} ({missing})", e);
        }

        using (process)
        {
            if (input is not null)
            {
                process.StandardInput.Write(input);
                process.StandardInput.Close();
            }

            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return new Result(process.ExitCode, stdout + stderr.Result);
        }
    }
}
