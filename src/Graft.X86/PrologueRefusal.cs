namespace Graft.X86;

/// <summary>Why a function's entry cannot be rewritten with a jump.</summary>
public enum PrologueRefusal
{
    None,
    TooSmall,
    BranchIntoWindow,
    CallInWindow,
    UndecodableInstruction,
    UnsupportedInstructionInWindow,
}
