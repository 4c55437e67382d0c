using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>
/// What graft prints for scripts (stdout not a terminal) and for people (a terminal): records one per line
/// whatever the width, and no escape codes when piped or when NO_COLOR is set.
/// </summary>
public sealed class PlainOutputTests : IDisposable
{
    private const string GraphicRendition = @"\u001b\[[0-9;]*m";

    // Longer than the 80 columns a table was wrapped at when piped.
    private static readonly string LongName = "fix-" + string.Concat(Enumerable.Repeat("really-long-patch-name-", 6)) + "end";

    private readonly string directory = Directory.CreateTempSubdirectory("graft-plain-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ListPipedPrintsOneRecordPerFunctionWithoutEscapeCodes(bool noColor)
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        var apply = Shell.Graft("apply", pid, BuildLongNamedPatch());
        Assert.True(apply.ExitCode == 0, apply.Stderr);

        // A terminal type that asks for colour: piped output must carry none of it anyway.
        var environment = new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["COLUMNS"] = "40" };
        if (noColor)
        {
            environment["NO_COLOR"] = "1";
        }

        var list = Shell.Run(environment, Published.Graft, "list", pid);

        Assert.Equal(0, list.ExitCode);
        Assert.DoesNotContain('\u001b', list.Stdout);
        var line = Assert.Single(list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var fields = line.Split('\t');
        Assert.Equal([LongName, "patched", "counter", "describe"], fields[..4]);
        Assert.Matches("^0x[0-9a-f]+$", fields[4]);
        Assert.Equal(8, fields.Length);
        Assert.Equal("-", fields[7]);
        Assert.Equal("1\n", Shell.Run("/bin/sh", "-c", $"{Published.Graft} list {pid} | grep -c -- {LongName}").Stdout);
    }

    [Fact]
    public void InfoPipedPrintsRecordsByKind()
    {
        var info = Shell.Run(new Dictionary<string, string> { ["TERM"] = "xterm-256color" }, Published.Graft, "info", BuildLongNamedPatch());

        Assert.Equal(0, info.ExitCode);
        Assert.DoesNotContain('\u001b', info.Stdout);
        var lines = info.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"patch\t{LongName}\t", lines[0]);
        Assert.Equal("function\t(main executable)\tany\tdescribe\t0\t-", lines[1]);
    }

    [Fact]
    public void OnATerminalNoColorLeavesOutColourAndEmphasis()
    {
        var patch = BuildLongNamedPatch();

        // script(1) gives graft a terminal of its own; its output is what that terminal showed.
        var colour = OnTerminal($"graft info {patch}", noColor: false);
        var plain = OnTerminal($"graft info {patch}", noColor: true);

        // Select Graphic Rendition: colour, bold.
        Assert.Matches(GraphicRendition, colour);
        Assert.DoesNotMatch(GraphicRendition, plain);
        Assert.Contains("requires build-id", plain);
        Assert.Contains(LongName, plain);
    }

    private string OnTerminal(string command, bool noColor)
    {
        var environment = new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["COLUMNS"] = "200" };
        if (noColor)
        {
            environment["NO_COLOR"] = "1";
        }

        var result = Shell.Run(environment, "script", "-qec", command.Replace("graft ", Published.Graft + " ", StringComparison.Ordinal), "/dev/null");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        return result.Stdout;
    }

    private string BuildLongNamedPatch()
    {
        var source = Path.Combine(directory, "fix.c");
        File.WriteAllText(source, $$"""
            #include <graft.h>
            static const char *describe_long(unsigned long n) { (void)n; return "long"; }
            static struct graft_func funcs[] = { { .old_name = "describe", .new_func = describe_long }, { } };
            static struct graft_object objs[] = { { .name = NULL, .funcs = funcs }, { } };
            static struct graft_patch patch = { .name = "{{LongName}}", .objs = objs };
            GRAFT_PATCH(patch);
            """);
        var output = Path.Combine(directory, "fix.so");
        var build = Shell.Graft("build", source, "-o", output);
        Assert.True(build.ExitCode == 0, build.Stderr);
        return output;
    }
}
