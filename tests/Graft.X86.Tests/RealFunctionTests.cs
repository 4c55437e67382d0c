using System.Diagnostics;

using Graft.X86.Tests.Native;

using Iced.Intel;

using Xunit.Abstractions;

namespace Graft.X86.Tests;

public sealed class RealFunctionTests(ITestOutputHelper output)
{
    private const string Libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    private static readonly string[] LibcFunctions =
    [
        "getenv", "setenv", "malloc", "free", "calloc", "realloc", "puts", "fputs", "fopen", "fclose", "fflush", "fwrite",
        "qsort", "atoi", "strtol", "strdup", "abort", "exit", "getpid", "write", "read", "close", "socket",
        "pthread_mutex_lock", "pthread_mutex_unlock", "printf", "snprintf",
    ];

    [Fact]
    public void LibcFunctionsGetWholeInstructionWindowsAndRelocatableSlots()
    {
        IReadOnlyList<NativeFunction> functions = BinutilsReader.Read(Libc, LibcFunctions);

        int patchable = functions.Count(CheckAnalysisAgainstObjdump);

        Assert.True(patchable >= functions.Count * 3 / 4, $"only {patchable} of {functions.Count} libc functions are patchable");
    }

    [Fact]
    public void GccFunctionsWithEndbr64KeepItAndRefuseTheTinyOnes()
    {
        IReadOnlyList<NativeFunction> functions = BinutilsReader.Read(
            CompileFixture(), ["zero", "add", "next_id", "sum", "sort_ints", "collatz_steps"]);

        foreach (NativeFunction function in functions)
        {
            Assert.Equal([0xF3, 0x0F, 0x1E, 0xFA], function.Bytes[..4]);
            CheckAnalysisAgainstObjdump(function);
        }

        Assert.Equal(PrologueRefusal.TooSmall, Analyze(functions[0]).Refusal); // endbr64; xor eax,eax; ret
        Assert.Equal(PrologueRefusal.TooSmall, Analyze(functions[1]).Refusal); // endbr64; lea eax,[rdi+rsi]; ret
        Assert.True(Analyze(functions[2]).IsPatchable, Analyze(functions[2]).Message); // endbr64; mov eax,[rip+counter]; ...
    }

    private static PrologueAnalysis Analyze(NativeFunction function)
    {
        return PrologueAnalyzer.Analyze(function.Bytes, function.Address);
    }

    private bool CheckAnalysisAgainstObjdump(NativeFunction function)
    {
        PrologueAnalysis analysis = Analyze(function);
        output.WriteLine($"{function.Name}: {analysis.Refusal}: {analysis.Message}");
        bool hasEndbr64 = function.Bytes.AsSpan().StartsWith((byte[])[0xF3, 0x0F, 0x1E, 0xFA]);
        Assert.Equal(function.Address + (hasEndbr64 ? 4UL : 0UL), analysis.PatchAddress);
        Assert.False(string.IsNullOrWhiteSpace(analysis.Message));
        if (!analysis.IsPatchable)
        {
            return false;
        }

        ulong windowEnd = analysis.PatchAddress + (ulong)analysis.WindowLength;
        Assert.InRange(analysis.WindowLength, 5, 19);
        Assert.Contains(analysis.PatchAddress, function.InstructionStarts);
        bool endsOnBoundary = function.InstructionStarts.Contains(windowEnd) || windowEnd == function.Address + (ulong)function.Bytes.Length;
        Assert.True(endsOnBoundary, $"{function.Name}: window ends inside an instruction at 0x{windowEnd:x}");
        int patchOffset = (int)(analysis.PatchAddress - function.Address);
        Assert.Equal(function.Bytes[patchOffset..(patchOffset + analysis.WindowLength)], analysis.WindowBytes.ToArray());
        CheckSlotCopy(function, analysis);
        return true;
    }

    // The copy must hold the same instructions as the window, then a jump back to the first byte after it.
    private static void CheckSlotCopy(NativeFunction function, PrologueAnalysis analysis)
    {
        ulong slotAddress = (function.Address + 0x1000_0000) & ~(ulong)(SlotLayout.Size - 1);
        SlotImage slot = SlotCode.Build(slotAddress, analysis, 0);

        List<Instruction> window = Decode(analysis.WindowBytes.ToArray(), analysis.PatchAddress);
        int copyLength = (int)(slot.InstructionMap[^1].CopyAddress - slot.OriginalCodeAddress) + JumpCode.JmpRel32Length;
        List<Instruction> copy = Decode(slot.Bytes[SlotLayout.OriginalCodeOffset..][..copyLength].ToArray(), slot.OriginalCodeAddress);

        Assert.Equal(window.Select(i => i.Mnemonic), copy.SkipLast(1).Select(i => i.Mnemonic));
        Assert.Equal(Mnemonic.Jmp, copy[^1].Mnemonic);
        Assert.Equal(analysis.PatchAddress + (ulong)analysis.WindowLength, copy[^1].NearBranchTarget);
        Assert.Equal(window.Select(i => i.IP), slot.InstructionMap.SkipLast(1).Select(entry => entry.OriginalAddress));
    }

    private static List<Instruction> Decode(byte[] code, ulong address)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), address);
        var instructions = new List<Instruction>();
        while (decoder.IP < address + (ulong)code.Length)
        {
            instructions.Add(decoder.Decode());
        }

        return instructions;
    }

    private static string CompileFixture()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Fixtures", "functions.c");
        string library = Path.Combine(Directory.CreateTempSubdirectory("graft-x86-").FullName, "libfunctions.so");
        var gcc = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        foreach (string argument in (string[])["-O2", "-fcf-protection=full", "-fPIC", "-shared", "-o", library, source])
        {
            gcc.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(gcc) ?? throw new InvalidOperationException("cannot start gcc");
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"gcc failed: {errors}");
        return library;
    }
}
