using System.Buffers.Binary;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>
/// A patch as `graft build` makes it passes <see cref="PatchDynamicRules"/>; a flag that makes it
/// unloadable, an entry no such build has, or a DT_RELACOUNT that would have glibc apply other
/// relocations as relative ones, is refused.
/// </summary>
public sealed class PatchDynamicRulesTests : IDisposable
{
    private const string Source = "static const char *names[] = { \"a\", \"b\" };\nconst char *name(int i) { return names[i & 1]; }\n";
    private const long RelaCount = 0x6ffffff9;

    private readonly string directory = Directory.CreateTempSubdirectory("graft-dynamic-").FullName;

    [Fact]
    public void PatchBuiltAsGraftBuildsPasses()
    {
        var elf = ElfFile.Load(Build());

        PatchDynamicRules.Check(elf);
        Assert.Contains(elf.DynamicEntries, e => e.Tag == RelaCount);
    }

    [Fact]
    public void NodeleteIsRefused()
    {
        var error = Assert.Throws<ElfFormatException>(() => PatchDynamicRules.Check(ElfFile.Load(Build("-Wl,-z,nodelete"))));

        Assert.Contains("DT_FLAGS_1 0x9", error.Message);
    }

    [Fact]
    public void RelaCountBeyondTheRelativeRelocationsIsRefused()
    {
        var image = File.ReadAllBytes(Build());
        var entry = DynamicEntryOffset(image, RelaCount);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(entry + 8), 0xa2_000a);

        var error = Assert.Throws<ElfFormatException>(() => PatchDynamicRules.Check(ElfFile.Parse(image)));

        Assert.StartsWith("DT_RELACOUNT (10616842)", error.Message);
    }

    [Fact]
    public void UnknownTagIsRefused()
    {
        var image = File.ReadAllBytes(Build());
        var entry = DynamicEntryOffset(image, RelaCount);
        BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(entry), unchecked((long)0xa200_0000_0000_0009));

        var error = Assert.Throws<ElfFormatException>(() => PatchDynamicRules.Check(ElfFile.Parse(image)));

        Assert.Equal("the dynamic section has an entry with tag 0xa200000000000009, which no patch built by graft has", error.Message);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Built as `graft build` does (cc -shared -fPIC -O2 -Wl,-z,now), plus <paramref name="flags"/>.</summary>
    private string Build(params string[] flags)
    {
        var source = Path.Combine(directory, "names.c");
        File.WriteAllText(source, Source);
        var output = Path.Combine(directory, $"names{string.Join("", flags)}.so");
        ExternalTool.Run("gcc", ["-shared", "-fPIC", "-O2", "-Wl,-z,now", "-Wl,--build-id", .. flags, "-o", output, source]);
        return output;
    }

    private static int DynamicEntryOffset(byte[] image, long tag)
    {
        var dynamic = ElfFile.Parse(image).FindSection(".dynamic")!;
        for (var at = (int)dynamic.Offset; ; at += 16)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(image.AsSpan(at)) == tag)
            {
                return at;
            }
        }
    }
}
