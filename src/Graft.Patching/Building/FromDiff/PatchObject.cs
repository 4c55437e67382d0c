using System.Buffers.Binary;
using Graft.Elf;
using Graft.Elf.Writing;
using Graft.X86.References;
using static Graft.Elf.ElfRelocationType;

namespace Graft.Patching.Building.FromDiff;

/// <summary>A function the patch redirects: its name in the binary, the sympos that names it, and the patch's symbol for its new code.</summary>
internal sealed record Redirect(string OldName, ulong Sympos, string NewSymbol);

/// <summary>A symbol of the running binary that the patch's code uses (graft.h's GRAFT_LOCAL).</summary>
internal sealed record LocalReference(string Name, ulong Sympos);

/// <summary>
/// The patch's code as one relocatable object: copies of the sections of the functions the diff
/// changed or added (and the anonymous constants they use: string literals, switch tables), and
/// of the data objects it added. What they refer to that stays (functions and variables, static
/// ones included) is not copied: it becomes a weak undefined symbol that Graft binds to the
/// running binary's own (GRAFT_LOCAL's mechanism), and the library functions stay undefined for
/// the dynamic linker. Calls go through the PLT; GOT loads stay GOT loads; an instruction that
/// reaches a variable PC-relatively runs in an <see cref="IndirectDataStub"/> that reads the
/// variable's address from a GOT slot, since the patch is mapped too far away for rel32.
/// </summary>
internal sealed partial class PatchObject
{
    private const ulong AllocFlag = 0x2;
    private const ulong ExecutableFlag = 0x4;
    private const ulong MergeFlags = 0x10 | 0x20; // SHF_MERGE | SHF_STRINGS
    private const int Rel32 = 4;

    private readonly ObjectBuilder _builder = new();
    private readonly TargetBinary _binary;
    private readonly Dictionary<(CompiledObject, int), OutputSection> _copies = [];
    private readonly HashSet<(CompiledObject, int)> _carried = [];
    private readonly Dictionary<string, (CompiledObject, ElfSymbol)> _carriedGlobals = [];
    private readonly Queue<(CompiledObject Object, ElfSection Section, OutputSection Copy)> _pending = new();
    private readonly Dictionary<string, OutputSymbol> _outside = [];
    private readonly Dictionary<string, LocalReference> _locals = [];
    private OutputSection? _stubs;

    private PatchObject(TargetBinary binary)
    {
        _binary = binary;
    }

    public List<Redirect> Redirects { get; } = [];

    public IReadOnlyCollection<LocalReference> Locals => _locals.Values;

    /// <summary>The functions of the build that the patch's code calls in the binary, by the object that has them.</summary>
    public HashSet<(CompiledObject Object, string Name)> Callees { get; } = [];

    /// <exception cref="GraftException">Refused: the changed code refers to something in a way a patch cannot reach.</exception>
    public static byte[] Build(IReadOnlyList<ObjectDiff> diffs, TargetBinary binary, out PatchObject patch)
    {
        patch = new PatchObject(binary);
        patch.Collect(diffs);
        patch.TranslatePending();
        foreach (var obj in diffs.Select(d => d.Patched))
        {
            patch.CopyUnwindInfo(obj);
        }

        // What the unwind information refers to (exception tables) comes along too.
        patch.TranslatePending();

        patch._builder.AddSection(".note.GNU-stack", ElfSectionType.ProgBits, 0, 1);
        return RelocatableWriter.Write(patch._builder);
    }

    private void TranslatePending()
    {
        while (_pending.TryDequeue(out var next))
        {
            foreach (var relocation in next.Object.RelocationsOf(next.Section))
            {
                Translate(next.Object, next.Section, next.Copy, relocation);
            }
        }
    }

    private void Collect(IReadOnlyList<ObjectDiff> diffs)
    {
        foreach (var diff in diffs)
        {
            var obj = diff.Patched;
            foreach (var section in diff.Functions.Select(f => obj.SectionOf(obj.Functions[f.Name])).Concat(diff.NewData.Select(d => obj.SectionOf(obj.DataObjects[d]))))
            {
                _carried.Add((obj, section.Index));
            }

            foreach (var symbol in obj.Elf.Symbols.Where(s => s.Binding != ElfSymbolBinding.Local && s.IsDefined && _carried.Contains((obj, s.SectionIndex))))
            {
                _carriedGlobals[symbol.Name] = (obj, symbol);
            }
        }

        foreach (var diff in diffs)
        {
            var obj = diff.Patched;
            foreach (var function in diff.Functions)
            {
                var symbol = obj.Functions[function.Name];
                var copy = Copy(obj, obj.SectionOf(symbol));
                _builder.AddSymbol(new OutputSymbol(function.Name, ElfSymbolType.Func, ElfSymbolBinding.Local, 0, copy, symbol.Value, symbol.Size));
                if (function.Change == FunctionChange.Changed)
                {
                    var found = _binary.Find(function.Name, obj.SourceFile)
                        ?? throw new GraftException(GraftFailure.Refused, $"{_binary.Path} has no function '{function.Name}' of {obj.SourceFile} to replace");
                    var entry = $"graft_new_{Redirects.Count}";
                    _builder.AddSymbol(new OutputSymbol(entry, ElfSymbolType.Func, ElfSymbolBinding.Global, 2 /* hidden */, copy, symbol.Value, symbol.Size));
                    Redirects.Add(new Redirect(function.Name, found.Sympos, entry));
                }
            }

            foreach (var data in diff.NewData)
            {
                var symbol = obj.DataObjects[data];
                _builder.AddSymbol(new OutputSymbol(data, ElfSymbolType.Object, ElfSymbolBinding.Local, 0, Copy(obj, obj.SectionOf(symbol)), symbol.Value, symbol.Size));
            }
        }
    }

    private OutputSection Copy(CompiledObject obj, ElfSection section)
    {
        if (!_copies.TryGetValue((obj, section.Index), out var copy))
        {
            // Not mergeable: the linker would move strings about, and a reference to section plus addend
            // (the copy's relocations) must keep meaning the same bytes.
            copy = _builder.AddSection(section.Name, section.Type, section.Flags & ~MergeFlags, section.Alignment, 0);
            copy.Data.AddRange(obj.Bytes(section));
            copy.ReservedSize = section.Size;
            _copies[(obj, section.Index)] = copy;
            _carried.Add((obj, section.Index));
            _pending.Enqueue((obj, section, copy));
        }

        return copy;
    }

    private void Translate(CompiledObject obj, ElfSection section, OutputSection copy, ElfRelocation relocation)
    {
        var what = $"{section.Name}+0x{relocation.Offset:x} ({obj.SourceFile})";
        if (RelocationKinds.IsThreadLocal(relocation.Type))
        {
            throw Refuse($"{what} uses a thread-local variable, which a patch cannot reach yet");
        }

        if (relocation.Type is R_X86_64_32 or R_X86_64_32S)
        {
            throw Refuse($"{what} is not position-independent code: build with -fPIE or -fPIC (gcc's default)");
        }

        var symbol = relocation.Symbol ?? throw Refuse($"{what} has a relocation without a symbol");
        if (Inside(obj, section, relocation, symbol) is var (target, adjust))
        {
            copy.Relocations.Add(new OutputRelocation(relocation.Offset, relocation.Type, _builder.SectionSymbol(target), relocation.Addend + adjust));
            return;
        }

        var (name, addend) = obj.Place(section, relocation) is var (place, offset)
            ? obj.NamedAt(place, offset) is { } named ? (named.Name, (long)symbol.Value + relocation.Addend - (long)named.Value) : throw Refuse($"{what}: no symbol")
            : (symbol.Name, relocation.Addend);
        var outside = Outside(name, obj.SourceFile);
        if (obj.Functions.ContainsKey(name))
        {
            Callees.Add((obj, name));
        }

        if (!CompiledObject.IsCode(section))
        {
            copy.Relocations.Add(relocation.Type == R_X86_64_64
                ? new OutputRelocation(relocation.Offset, R_X86_64_64, outside, addend)
                : throw Refuse($"{what} refers to '{name}' from data with relocation type {relocation.Type}"));
            return;
        }

        var code = obj.Code(section);
        var site = code.Site((int)relocation.Offset) ?? throw Refuse($"{what}: no instruction holds the relocation");
        if (relocation.Type == R_X86_64_PLT32 || (relocation.Type == R_X86_64_PC32 && site.IsDirectBranch))
        {
            copy.Relocations.Add(addend == -Rel32
                ? new OutputRelocation(relocation.Offset, R_X86_64_PLT32, outside, addend)
                : throw Refuse($"{what} branches into the middle of '{name}'"));
        }
        else if (RelocationKinds.IsGotLoad(relocation.Type))
        {
            copy.Relocations.Add(new OutputRelocation(relocation.Offset, R_X86_64_GOTPCREL, outside, addend));
        }
        else if (relocation.Type == R_X86_64_PC32 && site.IsRipRelativeDisplacement)
        {
            ThroughStub(obj, section, copy, code, site, outside, addend + site.FieldToEnd, what);
        }
        else
        {
            throw Refuse($"{what} refers to '{name}' with relocation type {relocation.Type}, which a patch cannot reach");
        }
    }

    /// <summary>Where a relocation lands when what it names is carried by the patch (changed or added code or data,
    /// anonymous constants): the copy and what to add to the addend; null when it names something that stays.</summary>
    private (OutputSection Section, long Adjust)? Inside(CompiledObject obj, ElfSection section, ElfRelocation relocation, ElfSymbol symbol)
    {
        if (obj.Place(section, relocation) is var (place, offset))
        {
            return _carried.Contains((obj, place.Index)) || obj.NamedAt(place, offset) is null ? (Copy(obj, place), (long)symbol.Value) : null;
        }

        if (symbol.IsDefined && symbol.SectionIndex < 0xff00 && _carried.Contains((obj, symbol.SectionIndex)))
        {
            return (Copy(obj, obj.Elf.Sections[symbol.SectionIndex]), (long)symbol.Value);
        }

        return !symbol.IsDefined && _carriedGlobals.TryGetValue(symbol.Name, out var global)
            ? (Copy(global.Item1, global.Item1.SectionOf(global.Item2)), (long)global.Item2.Value)
            : null;
    }

    /// <summary>The patch's symbol for something that stays: weak, and bound by Graft, when the binary has it; else
    /// an ordinary undefined symbol for the dynamic linker (a library's function or variable).</summary>
    private OutputSymbol Outside(string name, string sourceFile)
    {
        var found = _binary.Find(name, sourceFile);
        if (found is var (_, sympos))
        {
            if (_locals.TryGetValue(name, out var known) && known.Sympos != sympos)
            {
                throw Refuse($"the patch refers to two different symbols named '{name}' of {_binary.Path}, which it cannot tell apart yet");
            }

            _locals[name] = new LocalReference(name, sympos);
        }

        if (!_outside.TryGetValue(name, out var symbol))
        {
            symbol = _builder.AddSymbol(new OutputSymbol(name, ElfSymbolType.NoType, found is null ? ElfSymbolBinding.Global : ElfSymbolBinding.Weak, 0, null, 0, 0));
            _outside[name] = symbol;
        }

        return symbol;
    }

    private void ThroughStub(CompiledObject obj, ElfSection section, OutputSection copy, CompiledCode code, ReferenceSite site, OutputSymbol variable, long offset, string what)
    {
        if (obj.RelocationsOf(section).Count(r => (int)r.Offset >= site.Start && (int)r.Offset < site.Start + site.Length) > 1)
        {
            throw Refuse($"{what}: the instruction has two relocations");
        }

        IndirectDataStub stub;
        try
        {
            stub = IndirectDataStub.Build(code, site, offset);
        }
        catch (InvalidOperationException e)
        {
            throw Refuse($"{what} reaches '{variable.Name}' with an instruction that cannot run elsewhere: {e.Message}");
        }

        _stubs ??= _builder.AddSection(".text.graft_stubs", ElfSectionType.ProgBits, AllocFlag | ExecutableFlag, 16);
        var start = _stubs.Data.Count;
        _stubs.Data.AddRange(stub.Code);
        _stubs.Relocations.Add(new OutputRelocation((ulong)(start + stub.GotField), R_X86_64_GOTPCREL, variable, -Rel32));
        _stubs.Relocations.Add(new OutputRelocation((ulong)(start + stub.ReturnField), R_X86_64_PC32, _builder.SectionSymbol(copy), site.Start + site.Length - Rel32));

        // The instruction becomes a jump to the stub; the bytes after the jump are never reached.
        var bytes = new byte[site.Length];
        bytes.AsSpan().Fill(0xcc);
        bytes[0] = 0xe9;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), 0);
        for (int i = 0; i < bytes.Length; i++)
        {
            copy.Data[site.Start + i] = bytes[i];
        }

        copy.Relocations.Add(new OutputRelocation((ulong)(site.Start + 1), R_X86_64_PC32, _builder.SectionSymbol(_stubs), start - Rel32));
    }

    private static GraftException Refuse(string message) => new(GraftFailure.Refused, message);
}
