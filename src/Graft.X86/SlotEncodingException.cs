namespace Graft.X86;

/// <summary>Code for a slot or a jump cannot be encoded at the addresses given.</summary>
public sealed class SlotEncodingException(string message) : Exception(message);
