using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Graft.Elf;

namespace Graft.Model.Patches;

/// <summary>
/// Reads a patch's descriptor (GRAFT_PATCH in graft.h) and its local-symbol references
/// (GRAFT_LOCAL) straight from the file, so a patch can be inspected and checked against a
/// target before anything is loaded into it.
/// </summary>
public static class PatchFile
{
    public const uint AbiVersion = 2;
    public const string DescriptorSymbol = "graft_patch_descriptor";
    public const string AbiVersionSymbol = "graft_abi_version";
    public const string LocalsSection = ".graft.locals";
    public const string PreserveEntrySymbol = "graft_preserve_entry";

    // Layouts of graft.h's structs on x86-64 (checked against C by the tests).
    private const int ObjectSize = 56;
    private const int ObjectCallbacksOffset = 24;
    private const int PatchReplaceOffset = 16;
    private const int FunctionSize = 24;
    private const int LocalSymbolSize = 24;
    private const int MaxEntries = 100_000;

    /// <summary>
    /// The SHA-256 of each parsed patch's whole file, computed on first use: tied to the <see cref="ElfFile"/>
    /// holding the bytes, so that every copy of a <see cref="PatchDefinition"/> (with) shares it and one
    /// given another image never carries a stale one.
    /// </summary>
    private static readonly ConditionalWeakTable<ElfFile, string> Digests = [];

    /// <summary>
    /// Parses a patch from its file's bytes, read once by the caller; <paramref name="path"/> names it in messages.
    /// Nothing is hashed here: <see cref="PatchDefinition.Sha256"/> is computed when asked for, since the
    /// first SHA-256 of a process loads OpenSSL (milliseconds), and graftd parses a patch again while a thread
    /// of the target waits for it in the dynamic linker, with no use for the hash.
    /// </summary>
    public static PatchDefinition Parse(string path, byte[] bytes)
    {
        try
        {
            return Read(ElfFile.Parse(bytes), path);
        }
        catch (ElfFormatException e)
        {
            throw new PatchFormatException($"{path}: {e.Message}");
        }
    }

    /// <summary>A patch file's SHA-256, lowercase hex, as sha256sum prints it.</summary>
    public static string Sha256Of(ReadOnlySpan<byte> file) => Convert.ToHexStringLower(SHA256.HashData(file));

    /// <summary>The SHA-256 of the file a patch was parsed from (<see cref="ElfFile.Image"/>, the whole file), computed once.</summary>
    public static string Sha256Of(ElfFile patch) => Digests.GetValue(patch, elf => Sha256Of(elf.Image.Span));

    /// <summary>Whether the SHA-256 of this parsed patch has been computed yet (for tests: nothing hashes what nothing uses).</summary>
    internal static bool HasSha256(ElfFile patch) => Digests.TryGetValue(patch, out _);

    private static PatchDefinition Read(ElfFile elf, string path)
    {
        var image = new PatchImage(elf, path);
        if (elf.Kind != ElfKind.SharedObject)
        {
            throw image.Fail("not a shared object; build patches with 'graft build'");
        }

        // The target's own dlopen maps the file: what its loader would trip over is refused here, before the target is touched.
        LoadableCheck.Run(elf);
        PatchDynamicRules.Check(elf);

        var descriptor = FindSymbol(elf, DescriptorSymbol)
            ?? throw image.Fail($"not a graft patch: no '{DescriptorSymbol}' symbol (declare the patch with GRAFT_PATCH)");
        var abi = FindSymbol(elf, AbiVersionSymbol) is { } abiSymbol ? image.ReadUInt32(abiSymbol.Value) : 0;
        if (abi != AbiVersion)
        {
            throw image.Fail($"built for graft ABI version {abi}, this graft reads version {AbiVersion}; rebuild it with this graft's graft.h");
        }

        var patch = image.ReadPointer(descriptor.Value);
        var name = image.ReadString(patch);
        if (string.IsNullOrWhiteSpace(name))
        {
            throw image.Fail("the patch has no name (struct graft_patch .name)");
        }

        var objects = ReadObjects(elf, image, image.ReadPointer(patch + 8));
        if (objects.All(o => o.Functions.Count == 0 && o.Callbacks.IsEmpty))
        {
            throw image.Fail($"patch '{name}' replaces no function and has no callbacks");
        }

        var replace = image.ReadByte(patch + PatchReplaceOffset) != 0;
        return new PatchDefinition(Path.GetFullPath(path), name, elf.BuildId, replace, objects, ReadLocalSymbols(elf, image))
        {
            Elf = elf,
            PreserveEntry = FindSymbol(elf, PreserveEntrySymbol) is { } entry ? image.ReadPointer(entry.Value) : 0,
        };
    }

    private static List<ObjectDefinition> ReadObjects(ElfFile elf, PatchImage image, ulong table)
    {
        if (table == 0)
        {
            throw image.Fail("the patch has no object table (struct graft_patch .objs)");
        }

        var objects = new List<ObjectDefinition>();
        for (var entry = table; ; entry += ObjectSize)
        {
            var functions = image.ReadPointer(entry + 8);
            if (functions == 0)
            {
                return objects;
            }

            if (objects.Count == MaxEntries)
            {
                throw image.Fail("the object table (struct graft_object[]) has no terminating empty entry");
            }

            var callbacks = entry + ObjectCallbacksOffset;
            var set = new CallbackSet(image.ReadPointer(callbacks), image.ReadPointer(callbacks + 8), image.ReadPointer(callbacks + 16), image.ReadPointer(callbacks + 24));
            foreach (var callback in new[] { set.PrePatch, set.PostPatch, set.PreUnpatch, set.PostUnpatch }.Where(c => c != 0))
            {
                RequireCode(elf, image, callback, "a callback");
            }

            objects.Add(new ObjectDefinition(image.ReadString(entry), image.ReadString(entry + 16), ReadFunctions(elf, image, functions), entry, set));
        }
    }

    private static List<FunctionDefinition> ReadFunctions(ElfFile elf, PatchImage image, ulong table)
    {
        var functions = new List<FunctionDefinition>();
        for (var entry = table; ; entry += FunctionSize)
        {
            var oldName = image.ReadString(entry);
            if (oldName is null)
            {
                return functions;
            }

            if (functions.Count == MaxEntries)
            {
                throw image.Fail("a function table (struct graft_func[]) has no terminating empty entry");
            }

            var newFunction = image.ReadPointer(entry + 8);
            if (newFunction == 0)
            {
                throw image.Fail($"the replacement of '{oldName}' has no new_func");
            }

            RequireCode(elf, image, newFunction, $"the new_func of '{oldName}'");
            functions.Add(new FunctionDefinition(oldName, image.ReadPointer(entry + 16), newFunction, SizeOfFunctionAt(elf, newFunction)));
        }
    }

    private static List<LocalSymbolReference> ReadLocalSymbols(ElfFile elf, PatchImage image)
    {
        var section = elf.FindSection(LocalsSection);
        if (section is null)
        {
            return [];
        }

        var references = new List<LocalSymbolReference>();
        for (ulong offset = 0; offset + LocalSymbolSize <= section.Size; offset += LocalSymbolSize)
        {
            var entry = section.Address + offset;
            var name = image.ReadString(entry) ?? throw image.Fail($"an entry of {LocalsSection} has no name");
            var slots = elf.Relocations
                .Where(r => r.Symbol?.Name == name && r.Type is ElfRelocationType.R_X86_64_GLOB_DAT or ElfRelocationType.R_X86_64_JUMP_SLOT or ElfRelocationType.R_X86_64_64)
                .Select(r => new GotSlot(r.Offset, r.Type == ElfRelocationType.R_X86_64_64 ? r.Addend : 0))
                .ToList();
            references.Add(new LocalSymbolReference(name, image.ReadString(entry + 8), image.ReadPointer(entry + 16), slots));
        }

        return references;
    }

    /// <summary>The replacement's own extent, which a stacked patch checks stacks against (0: unknown, the patch is stripped).</summary>
    private static ulong SizeOfFunctionAt(ElfFile elf, ulong address) =>
        elf.Symbols.Concat(elf.DynamicSymbols).FirstOrDefault(s => s.Value == address && s.Type == ElfSymbolType.Func && s.IsDefined)?.Size ?? 0;

    /// <summary>Code Graft will make the target run must lie in an executable segment of the patch (not .rodata, not data).</summary>
    private static void RequireCode(ElfFile elf, PatchImage image, ulong address, string what)
    {
        var executable = elf.Segments.Any(s => s.Type == ElfSegmentType.Load && s.Flags.HasFlag(ElfSegmentFlags.Execute)
            && address >= s.VirtualAddress && address < s.VirtualAddress + s.FileSize);
        if (!executable)
        {
            throw image.Fail($"{what} (0x{address:x}) is not in an executable segment of the patch");
        }
    }

    private static ElfSymbol? FindSymbol(ElfFile elf, string name) =>
        elf.DynamicSymbols.Concat(elf.Symbols).FirstOrDefault(s => s.Name == name && s.IsDefined);
}
