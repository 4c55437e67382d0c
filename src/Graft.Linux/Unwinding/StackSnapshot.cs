using Graft.Linux.Tracing;

namespace Graft.Linux.Unwinding;

/// <summary>
/// The top of a thread's stack, read in one call when an unwind begins: the saved registers
/// and return addresses of the innermost frames lie there, and reading each word on its own
/// costs a system call per word. Reads past the window, or when the window could not be read,
/// go to the target's memory.
/// </summary>
internal sealed class StackSnapshot : IMemory
{
    private const ulong PageSize = 4096;

    private readonly IMemory memory;
    private readonly ulong start;
    private readonly byte[] window;

    /// <summary>Reads from <paramref name="stackPointer"/> to the end of the page after its own; to the end of its own page if the next is not mapped.</summary>
    public StackSnapshot(IMemory memory, ulong stackPointer)
    {
        this.memory = memory;
        start = stackPointer;
        var endOfPage = (stackPointer | (PageSize - 1)) + 1;
        window = TryRead(endOfPage + PageSize) ?? TryRead(endOfPage) ?? [];
    }

    public void Read(ulong address, Span<byte> destination)
    {
        if (address >= start && address - start + (ulong)destination.Length <= (ulong)window.Length)
        {
            window.AsSpan((int)(address - start), destination.Length).CopyTo(destination);
            return;
        }

        memory.Read(address, destination);
    }

    /// <summary>The unwinder only reads.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> source) =>
        throw new InvalidOperationException("a stack snapshot is read-only");

    private byte[]? TryRead(ulong end)
    {
        if (end <= start || end - start > 2 * PageSize)
        {
            return null;
        }

        var bytes = new byte[end - start];
        try
        {
            memory.Read(start, bytes);
            return bytes;
        }
        catch (RemoteMemoryException)
        {
            return null;
        }
    }
}
