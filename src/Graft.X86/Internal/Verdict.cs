namespace Graft.X86.Internal;

/// <summary>A reason to refuse a function, with its message.</summary>
internal sealed record Verdict(PrologueRefusal Refusal, string Message);
