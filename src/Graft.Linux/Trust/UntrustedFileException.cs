namespace Graft.Linux.Trust;

/// <summary>A file Graft will not run code from, with the reason, in one line.</summary>
public sealed class UntrustedFileException(string message) : Exception(message);
