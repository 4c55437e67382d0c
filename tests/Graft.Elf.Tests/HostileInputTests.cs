using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>Truncated and corrupted real objects may only ever produce <see cref="ElfFormatException"/>.</summary>
public sealed class HostileInputTests(CompiledProgram program) : IClassFixture<CompiledProgram>
{
    private const int Seed = 20240611;

    [Fact]
    public void TruncatedFilesOnlyThrowElfFormatException()
    {
        var toucher = new ElfToucher();
        foreach (byte[] original in Originals())
        {
            var random = new Random(Seed);
            IEnumerable<int> lengths = Enumerable.Range(0, 257)
                .Concat(Enumerable.Range(0, 600).Select(i => (int)((long)original.Length * i / 600)))
                .Concat(Enumerable.Range(0, 200).Select(_ => random.Next(original.Length)));
            foreach (int length in lengths)
            {
                Run(toucher, original.AsSpan(0, length).ToArray(), $"truncated to {length} of {original.Length} bytes");
            }
        }

        // The section headers sit at the end, so every cut file is refused at once: that is right, but it
        // leaves the tables' own readers untested; the next test cuts the tables instead.
        Assert.True(toucher.Refused > 0, "no truncated file was refused");
    }

    [Fact]
    public void TruncatedSectionsOnlyThrowElfFormatException()
    {
        var toucher = new ElfToucher();
        foreach (byte[] original in Originals())
        {
            var random = new Random(Seed);
            ElfFile elf = ElfFile.Parse(original);
            long sectionTable = BitConverter.ToInt64(original, 0x28);
            foreach (ElfSection section in elf.Sections.Where(s => s.Type != ElfSectionType.NoBits && s.Size > 0))
            {
                IEnumerable<ulong> sizes = Enumerable.Range(0, 24).Select(i => (ulong)i)
                    .Concat(Enumerable.Range(0, 40).Select(_ => (ulong)random.NextInt64((long)section.Size)));
                foreach (ulong size in sizes.Where(s => s < section.Size))
                {
                    byte[] image = (byte[])original.Clone();
                    BitConverter.GetBytes(size).CopyTo(image, sectionTable + (section.Index * 64) + 0x20);
                    Run(toucher, image, $"section {section.Name} cut to {size} of {section.Size} bytes");
                }
            }
        }

        Assert.True(toucher.PartlyMalformed > 0, $"{toucher.Refused} refused, {toucher.PartlyMalformed} partly malformed");
    }

    [Fact]
    public void CorruptedFilesOnlyThrowElfFormatException()
    {
        var toucher = new ElfToucher();
        foreach (byte[] original in Originals())
        {
            var random = new Random(Seed);
            (int Start, int Length)[] regions = InterestingRegions(original);
            for (int round = 0; round < 2500; round++)
            {
                byte[] image = (byte[])original.Clone();
                int flips = 1 + random.Next(8);
                for (int f = 0; f < flips; f++)
                {
                    (int start, int length) = regions[random.Next(regions.Length)];
                    image[start + random.Next(length)] ^= (byte)(1 + random.Next(255));
                }

                Run(toucher, image, $"round {round} with seed {Seed}");
            }
        }

        Assert.True(
            toucher.Refused > 0 && toucher.PartlyMalformed > 0 && toucher.FullyUsable > 0,
            $"{toucher.Refused} refused, {toucher.PartlyMalformed} partly malformed, {toucher.FullyUsable} fully usable");
    }

    [Fact]
    public void NonElfInputsAreRecognised()
    {
        Assert.Equal("not an ELF file", Assert.Throws<ElfFormatException>(() => ElfFile.Parse("hello, world\n"u8.ToArray())).Message);
        Assert.Equal("not an ELF file", Assert.Throws<ElfFormatException>(() => ElfFile.Parse(Array.Empty<byte>())).Message);
        byte[] header = File.ReadAllBytes(SystemFiles.True).AsSpan(0, 40).ToArray();
        Assert.Equal("ELF header truncated: 40 of 64 bytes", Assert.Throws<ElfFormatException>(() => ElfFile.Parse(header)).Message);
        header[4] = 1;
        Assert.Contains("32-bit", Assert.Throws<ElfFormatException>(() => ElfFile.Parse(header)).Message);
    }

    [Fact]
    public void SectionOutsideTheFileIsNamed()
    {
        byte[] image = File.ReadAllBytes(SystemFiles.True);
        ElfSection dynstr = ElfFile.Parse(image).FindSection(".dynstr")!;
        long headerOffset = BitConverter.ToInt64(image, 0x28) + (dynstr.Index * 64);
        BitConverter.GetBytes((ulong)image.Length).CopyTo(image, headerOffset + 0x18);

        ElfFormatException error = Assert.Throws<ElfFormatException>(() => ElfFile.Parse(image));
        Assert.StartsWith($"section {dynstr.Index} (.dynstr) lies outside the file", error.Message);
    }

    private static void Run(ElfToucher toucher, byte[] image, string description)
    {
        try
        {
            toucher.TouchEverything(image);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{description}: {e.GetType().Name} escaped: {e}");
        }
    }

    // Flips land where parsing happens (headers, tables, .eh_frame), not in code bytes nobody reads.
    private static (int Start, int Length)[] InterestingRegions(byte[] original)
    {
        ElfFile elf = ElfFile.Parse(original);
        var regions = new List<(int, int)> { (0, 64 + (elf.Segments.Count * 56)) };
        long sectionTable = BitConverter.ToInt64(original, 0x28);
        regions.Add(((int)sectionTable, elf.Sections.Count * 64));
        regions.AddRange(elf.Sections
            .Where(s => s.Type != ElfSectionType.NoBits && s.Size > 0 && s.Name is not (".text" or ".rodata" or ".data"))
            .Select(s => ((int)s.Offset, (int)s.Size)));
        return [.. regions];
    }

    private IEnumerable<byte[]> Originals()
    {
        yield return File.ReadAllBytes(SystemFiles.True);
        if (program.ExecutablePath is not null)
        {
            yield return File.ReadAllBytes(program.ExecutablePath);
        }
    }
}
