using System.Globalization;

using Graft.Elf.Dwarf;

namespace Graft.Elf.Tests;

/// <summary>The [vdso] is parsed from memory, not from a file: read it out of this test process.</summary>
public sealed class VdsoImageTests
{
    [Fact]
    public void VdsoReadFromMemoryParsesWithSymbolsVersionsAndFrames()
    {
        string? line = File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith("[vdso]", StringComparison.Ordinal));
        Assert.NotNull(line);
        string[] range = line.Split(' ')[0].Split('-');
        ulong start = ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        ulong end = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var image = new byte[end - start];
        using (Microsoft.Win32.SafeHandles.SafeFileHandle memory = File.OpenHandle("/proc/self/mem"))
        {
            Assert.Equal(image.Length, RandomAccess.Read(memory, image, (long)start));
        }

        ElfFile vdso = ElfFile.Parse(image);

        Assert.Equal(ElfKind.SharedObject, vdso.Kind);
        Assert.Equal("linux-vdso.so.1", vdso.Soname);
        ElfSymbol clockGettime = Assert.Single(vdso.DynamicSymbols, s => s.Name == "__vdso_clock_gettime");
        Assert.Equal("LINUX_2.6", clockGettime.Version);
        Assert.True(clockGettime.IsDefined);
        EhFrameTable frames = Assert.IsType<EhFrameTable>(vdso.EhFrame);
        FrameDescription fde = Assert.IsType<FrameDescription>(frames.Find(clockGettime.Value));
        Assert.IsType<CfaRule.RegisterOffset>(fde.ComputeRow(clockGettime.Value).Cfa);
        Assert.Equal(0UL, vdso.LowestLoadAddress);
    }
}
