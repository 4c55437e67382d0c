namespace Graft.Patching.Redirect;

/// <summary>
/// One instruction rewritten at a function's entry: the 5 bytes to write at
/// <paramref name="Address"/>, and where a thread that reaches the address meanwhile continues,
/// as if the new instruction were already there.
/// </summary>
/// <param name="MovedInstructions">
/// When the old bytes are several instructions (the function's own code), each instruction's
/// address and where its copy in the slot lies: a thread found between them is moved there.
/// </param>
internal sealed record CodeEdit(ulong Address, byte[] Bytes, ulong ContinueAt, IReadOnlyDictionary<ulong, ulong>? MovedInstructions = null);
