using Graft.Elf.Dwarf;

namespace Graft.Elf.Tests.Support;

/// <summary>Registers and 8-byte memory words for evaluating expressions; reading anything unset fails.</summary>
internal sealed class FakeMachine : IDwarfExpressionContext
{
    public Dictionary<int, ulong> Registers { get; } = [];

    public Dictionary<ulong, ulong> Memory { get; } = [];

    public ulong ReadRegister(int dwarfRegister) =>
        Registers.TryGetValue(dwarfRegister, out ulong value) ? value : throw new InvalidOperationException($"register {dwarfRegister} not set");

    public ulong ReadMemory(ulong address) =>
        Memory.TryGetValue(address, out ulong value) ? value : throw new InvalidOperationException($"memory 0x{address:x} not set");
}
