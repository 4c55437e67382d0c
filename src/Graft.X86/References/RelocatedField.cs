namespace Graft.X86.References;

/// <summary>
/// A field of compiled code that the linker fills in: where it lies in the function, how many bytes it has,
/// the address in the running binary its instruction must reach once linked (null when that cannot be known
/// from the binary, as for a library function reached through the PLT or an anonymous constant), whether it is
/// a GOT load the linker may have rewritten into a lea, and what it refers to, for messages.
/// </summary>
public sealed record RelocatedField(int Offset, int Size, ulong? Reaches, bool IsGotLoad, string Meaning);
