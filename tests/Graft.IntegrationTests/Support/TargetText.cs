using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Model.State;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// A snapshot of a process's code (every executable mapping of its files; graft's own state
/// mapping, with the page its injected calls return to, and the images of patches, which stay
/// loaded after a revert, are not the program's) and of its memory map.
/// </summary>
internal sealed record TargetText(IReadOnlyList<string> Maps, IReadOnlyDictionary<ulong, byte[]> Code)
{
    private const string PatchImagePrefix = "graft-patch:";

    public static TargetText Read(int pid)
    {
        using var memory = new RemoteMemory(pid);
        var mappings = ProcessMaps.Read(pid);
        var code = mappings.Where(m => m.IsExecutable && m.IsFile
                && !m.Path.StartsWith($"/memfd:{StateLayout.MappingName}", StringComparison.Ordinal)
                && !m.Path.StartsWith($"/memfd:{PatchImagePrefix}", StringComparison.Ordinal))
            .ToDictionary(m => m.Start, m => memory.Read(m.Start, (int)(m.End - m.Start)));
        return new TargetText(File.ReadAllLines($"/proc/{pid}/maps"), code);
    }

    public void AssertCodeUnchanged(int pid)
    {
        var now = Read(pid);
        Assert.Equal(Code.Keys.Order(), now.Code.Keys.Order());
        foreach (var (start, bytes) in Code)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(now.Code[start]), $"code at 0x{start:x} changed");
        }
    }

    public void AssertUnchanged(int pid)
    {
        AssertCodeUnchanged(pid);
        Assert.Equal(Maps, Read(pid).Maps);
    }
}
