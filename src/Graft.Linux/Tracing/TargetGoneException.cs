namespace Graft.Linux.Tracing;

/// <summary>The traced process, or the thread an operation needed, exited under us.</summary>
public sealed class TargetGoneException(string message) : Exception(message);
