namespace Graft.Linux.Seccomp;

/// <summary>A seccomp filter Graft cannot evaluate (an instruction it does not know, a jump out of the program ...).</summary>
public sealed class SeccompEvaluationException(string message) : Exception(message);
