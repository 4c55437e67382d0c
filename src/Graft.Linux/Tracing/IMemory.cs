namespace Graft.Linux.Tracing;

/// <summary>
/// The memory of a target at its own addresses: the live process (<see cref="RemoteMemory"/>),
/// or an image of some of its bytes. What reads a target (the unwinder, the state record, the
/// thread table) takes this, so it can be tested without a process; the typed reads and writes
/// are written once over these two (<see cref="TypedMemory"/>).
/// </summary>
public interface IMemory
{
    /// <summary>Fills <paramref name="destination"/> from <paramref name="address"/> on; throws <see cref="RemoteMemoryException"/> if any of it cannot be read.</summary>
    void Read(ulong address, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> at <paramref name="address"/>; throws <see cref="RemoteMemoryException"/> if any of it cannot be written.</summary>
    void Write(ulong address, ReadOnlySpan<byte> source);
}
