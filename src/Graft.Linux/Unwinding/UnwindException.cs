namespace Graft.Linux.Unwinding;

/// <summary>A frame whose registers cannot be recovered from its unwind rules.</summary>
internal sealed class UnwindException(string message) : Exception(message);
