using Iced.Intel;

namespace Graft.X86;

/// <summary>Whether, and where, a function's entry can be replaced with a jump into a slot.</summary>
public sealed class PrologueAnalysis
{
    // Formatted when asked (graft analyze, a refusal): Iced's formatter costs an apply milliseconds to set up.
    private readonly Lazy<string> message;

    private PrologueAnalysis(
        PrologueRefusal refusal, Lazy<string> message, ulong patchAddress, byte[] windowBytes, IReadOnlyList<Instruction> windowInstructions)
    {
        Refusal = refusal;
        this.message = message;
        PatchAddress = patchAddress;
        WindowBytes = windowBytes;
        WindowInstructions = windowInstructions;
    }

    public bool IsPatchable => Refusal == PrologueRefusal.None;

    public PrologueRefusal Refusal { get; }

    /// <summary>One line for a human: why the function is refused, or what will be rewritten.</summary>
    public string Message => message.Value;

    /// <summary>Where the jump goes: the function's address, or just after a leading endbr64.</summary>
    public ulong PatchAddress { get; }

    /// <summary>Bytes displaced by the jump: whole instructions from <see cref="PatchAddress"/>; 0 if none could be chosen.</summary>
    public int WindowLength => WindowBytes.Length;

    public ReadOnlyMemory<byte> WindowBytes { get; }

    /// <summary>The decoded instructions of the window, at their original addresses.</summary>
    internal IReadOnlyList<Instruction> WindowInstructions { get; }

    internal static PrologueAnalysis Patchable(ulong patchAddress, byte[] windowBytes, IReadOnlyList<Instruction> windowInstructions, Func<string> message)
    {
        return new PrologueAnalysis(PrologueRefusal.None, new Lazy<string>(message), patchAddress, windowBytes, windowInstructions);
    }

    internal static PrologueAnalysis Refused(PrologueRefusal refusal, string message, ulong patchAddress, byte[] windowBytes)
    {
        return new PrologueAnalysis(refusal, new Lazy<string>(message), patchAddress, windowBytes, []);
    }
}
