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

    public void AssertUnchanged(int pid) => AssertUnchangedBesides(pid, []);

    /// <summary>
    /// As <see cref="AssertUnchanged"/>, except for the malloc arenas graft's warnings name as left by a rollback
    /// (<see cref="ArenaWarnings"/>): each a heap of 64 MiB at the address given, which was not there before.
    /// </summary>
    public void AssertUnchangedBesides(int pid, IReadOnlyList<ArenaWarnings.LeftArena> arenas)
    {
        AssertCodeUnchanged(pid);
        var now = Read(pid).Maps;
        foreach (var arena in arenas)
        {
            Assert.Equal(pid, arena.Pid);
            Assert.DoesNotContain(pid, arena.Threads);
            Assert.DoesNotContain(Maps, line => Inside(line, arena.Start));
            Assert.Contains(now, line => line.StartsWith($"{arena.Start:x}-", StringComparison.Ordinal));
        }

        Assert.Equal(Maps, now.Where(line => !arenas.Any(a => Inside(line, a.Start))));
    }

    private static bool Inside(string mapsLine, ulong heapStart)
    {
        var mapping = ProcessMaps.Parse(mapsLine);
        return mapping.Start >= heapStart && mapping.End <= heapStart + MallocHeaps.HeapSize;
    }
}
