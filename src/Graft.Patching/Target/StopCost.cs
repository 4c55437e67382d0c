namespace Graft.Patching.Target;

/// <summary>What stopping threads has cost a process: the longest stop of one thread, the most threads stopped at once, and graft's int3 traps served.</summary>
internal sealed record StopCost(TimeSpan LongestStop, int MostStoppedAtOnce, int TrapsHandled);
