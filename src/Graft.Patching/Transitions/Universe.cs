namespace Graft.Patching.Transitions;

/// <summary>
/// Which code a thread runs during a per-thread transition (the kernel's task->patch_state):
/// the functions as they were below the patch, or the patch's. The values are the bytes the
/// slots' dispatchers read.
/// </summary>
internal enum Universe : byte
{
    Old = 0,
    New = 1,
}
