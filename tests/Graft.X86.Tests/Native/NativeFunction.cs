namespace Graft.X86.Tests.Native;

/// <summary>A function's bytes from an ELF file, with the instruction boundaries objdump sees in it.</summary>
internal sealed record NativeFunction(string Name, ulong Address, byte[] Bytes, IReadOnlySet<ulong> InstructionStarts);
