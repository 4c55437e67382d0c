using Graft.Patching.Operations;
namespace Graft.IntegrationTests.Support;

/// <summary>Collects the notices an operation prints, for comparing whole logs.</summary>
internal sealed class NoticeLog
{
    private readonly List<string> lines = [];

    public IReadOnlyList<string> Lines => lines;

    public Graft.Patching.Operations.Patcher NewPatcher() => new(lines.Add);
}
