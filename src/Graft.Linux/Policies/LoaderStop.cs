namespace Graft.Linux.Policies;

/// <summary>Where a thread stopped in the dynamic linker: at r_brk (read r_state to know why), or before a munmap.</summary>
public enum LoaderStopKind
{
    DebugState,
    Unmap,
}

/// <summary>A thread stopped in the dynamic linker, holding its lock, until Graft lets it go on.</summary>
public sealed record LoaderStop(int Tid, LoaderStopKind Kind, ulong UnmapStart, ulong UnmapLength);
