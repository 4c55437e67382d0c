using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>
/// gcc -O2 -g (DWARF 5) and -gdwarf-4: mix() is inlined into two callers and also kept out of line (its address is
/// taken); .debug_info says which callers hold copies.
/// </summary>
public sealed class InlinedCopiesTests : IDisposable
{
    private const string Source = """
        static int mix(int x) { return (x * 2654435761u) ^ (x >> 7); }
        int (*volatile keep)(int) = mix;
        int hash_pair(int a, int b) { return mix(a) + mix(b); }
        int hash_one(int a) { return mix(a + 1); }
        int plain(int a) { return a - 1; }
        int main(int argc, char **argv) { (void)argv; return hash_pair(argc, 2) + hash_one(argc) + keep(argc) + plain(argc); }
        """;

    private readonly string directory = Directory.CreateTempSubdirectory("graft-elf-inline-").FullName;

    [Theory]
    [InlineData("-gdwarf-5")]
    [InlineData("-gdwarf-4")]
    public void TheCallersHoldingInlinedCopiesAreNamed(string dwarf)
    {
        ElfFile elf = ElfFile.Load(Compile(dwarf, "-g"));

        InlinedCopies? inlined = InlinedCopies.Read(elf);

        Assert.NotNull(inlined);
        IReadOnlyDictionary<string, int> copies = inlined.CallersOf("mix");
        // main holds copies too: gcc inlined hash_pair and hash_one into it, mix with them.
        Assert.Equal(["hash_one", "hash_pair", "main"], copies.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2, copies["hash_pair"]);
        Assert.Equal(["main"], inlined.CallersOf("plain").Keys);
        Assert.Empty(inlined.CallersOf("main"));
    }

    [Fact]
    public void WithoutDebugInformationNothingCanBeSaid()
    {
        Assert.Null(InlinedCopies.Read(ElfFile.Load(Compile("-g0"))));
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Compile(params string[] flags)
    {
        string source = Path.Combine(directory, "inline.c");
        File.WriteAllText(source, Source);
        string output = Path.Combine(directory, $"inline{string.Join("", flags)}");
        ExternalTool.Run("gcc", [.. flags, "-O2", "-o", output, source]);
        return output;
    }
}
