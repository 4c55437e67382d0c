using Graft.Patching.Operations;
namespace Graft.IntegrationTests.Support;

/// <summary>
/// One log for Graft's notices and the target's callback lines (the fixtures' callback_log.h
/// appends to the file named by GRAFT_CALLBACK_LOG), in the order they happened, as dmesg
/// holds the kernel's and the sample modules' lines in its selftests. Notices are prefixed
/// "graft: " as the kernel prefixes them "livepatch: ".
/// </summary>
internal sealed class CallbackLog : IDisposable
{
    public CallbackLog() => File.WriteAllText(Path, "");

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"graft-callbacks-{Guid.NewGuid():N}.log");

    public Dictionary<string, string> Environment => new() { ["GRAFT_CALLBACK_LOG"] = Path };

    public Graft.Patching.Operations.Patcher NewPatcher() => new(notice => Append($"graft: {notice}"));

    public void Append(string line) => File.AppendAllText(Path, line + "\n");

    /// <summary>The lines so far, and a fresh start for the next step's lines.</summary>
    public IReadOnlyList<string> Take()
    {
        var lines = File.ReadAllLines(Path);
        File.WriteAllText(Path, "");
        return lines;
    }

    public void Dispose() => File.Delete(Path);
}
