using System.Diagnostics;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Building;
using Graft.Patching.Operations;
using Spectre.Console;

namespace Graft.Cli.Demo;

/// <summary>
/// `graft demo`: builds the bundled service and patch, starts the service, and shows its output
/// before the patch, with it, and after reverting it, in the same running process.
/// </summary>
internal sealed class DemoRun(TimeSpan phase) : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graft-demo-").FullName;
    private int pid;
    private long shown;

    public int Run()
    {
        var service = Path.Combine(directory, "service");
        var patch = Path.Combine(directory, "fix-parse-len.so");
        Step("Building the demo service and its patch");
        Compile(Extract("service.c"), service);
        PatchBuilder.Default.Build([Extract("patch.c")], patch, []);

        Step("Starting the service");
        pid = Start(service);
        Terminal.Styled.MarkupLine($"service running as pid [bold]{pid}[/]");
        ShowOutput();

        var patcher = new Patcher(text => Terminal.Styled.MarkupLineInterpolated($"[grey]graft: {text}[/]"));
        Step($"graft apply {pid} fix-parse-len.so");
        var applied = patcher.Apply(pid, patch, Patcher.DefaultTimeout);
        Terminal.Styled.MarkupLine($"a thread was stopped for at most {applied.Stops.LongestStop.TotalMilliseconds:0.###} ms");
        ShowOutput();

        Step($"graft revert {pid} fix-parse-len");
        patcher.Revert(pid, "fix-parse-len", Patcher.DefaultTimeout);
        ShowOutput();

        Step("Same process all along: the request counter never restarted");
        return 0;
    }

    private void ShowOutput()
    {
        Thread.Sleep(phase);
        using var log = new FileStream(Path.Combine(directory, "service.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        log.Seek(shown, SeekOrigin.Begin);
        using var reader = new StreamReader(log);
        var text = reader.ReadToEnd();
        var complete = text.LastIndexOf('\n') + 1;
        shown += complete;
        foreach (var line in text[..complete].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Terminal.Styled.MarkupLineInterpolated($"  [green]{line}[/]");
        }
    }

    private string Extract(string name)
    {
        using var resource = typeof(DemoRun).Assembly.GetManifestResourceStream($"Graft.Cli.Demo.{name}")
            ?? throw new InvalidOperationException($"the demo resource {name} is missing from graft");
        var path = Path.Combine(directory, name);
        using var file = File.Create(path);
        resource.CopyTo(file);
        return path;
    }

    private static void Compile(string source, string output)
    {
        var result = Shell($"cc -O2 -g -o '{output}' '{source}'");
        if (result.ExitCode != 0)
        {
            throw new GraftException(GraftFailure.Internal, $"cannot build the demo service: {result.Output}");
        }
    }

    /// <summary>
    /// Starts the service detached through a shell, so it is not graft's child: .NET reaps its
    /// own children and would swallow the ptrace stops of a traced one.
    /// </summary>
    private int Start(string service)
    {
        var log = Path.Combine(directory, "service.log");
        var result = Shell($"setsid '{service}' > '{log}' 2>&1 < /dev/null & echo $!");
        return int.TryParse(result.Output.Trim(), out var started) && result.ExitCode == 0
            ? started
            : throw new GraftException(GraftFailure.Internal, $"cannot start the demo service: {result.Output}");
    }

    private static (int ExitCode, string Output) Shell(string command)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    private static void Step(string title) => Terminal.Styled.Write(new Rule($"[yellow]{Markup.Escape(title)}[/]").LeftJustified());

    public void Dispose()
    {
        if (pid > 0)
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }

        Directory.Delete(directory, recursive: true);
    }
}
