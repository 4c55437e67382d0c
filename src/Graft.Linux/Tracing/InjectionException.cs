namespace Graft.Linux.Tracing;

/// <summary>Code Graft ran inside the target (a syscall or a call) failed; the thread's state was put back.</summary>
public sealed class InjectionException(string message) : Exception(message);
