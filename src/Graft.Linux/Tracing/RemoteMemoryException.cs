namespace Graft.Linux.Tracing;

/// <summary>An address of the target that cannot be read or written.</summary>
public sealed class RemoteMemoryException(string message) : Exception(message);
