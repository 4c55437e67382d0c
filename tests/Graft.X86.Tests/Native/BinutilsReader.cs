using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Graft.X86.Tests.Native;

/// <summary>
/// Reads functions out of an ELF file, and disassembles raw code, through nm and objdump, so that the tests check
/// Graft.X86 against an independent disassembler rather than against Iced itself.
/// </summary>
internal static partial class BinutilsReader
{
    public static IReadOnlyList<NativeFunction> Read(string elfPath, IReadOnlyList<string> names)
    {
        Dictionary<string, (ulong Address, ulong Size)> symbols = DynamicFunctionSymbols(elfPath);
        var functions = new List<NativeFunction>();
        foreach (string name in names)
        {
            if (!symbols.TryGetValue(name, out (ulong Address, ulong Size) symbol))
            {
                throw new InvalidOperationException($"{elfPath} exports no function named {name}");
            }

            functions.Add(Disassemble(elfPath, name, symbol.Address, symbol.Size));
        }

        return functions;
    }

    /// <summary>objdump's Intel-syntax text of each instruction in <paramref name="code"/> placed at <paramref name="address"/>.</summary>
    public static IReadOnlyList<(ulong Address, string Text)> DisassembleBytes(byte[] code, ulong address)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, code);
            string[] output = Run(
                "objdump", "-D", "-w", "-M", "intel", "-b", "binary", "-m", "i386:x86-64", $"--adjust-vma=0x{address:x}", path);
            return
            [
                .. output.Select(line => ObjdumpLine().Match(line))
                    .Where(match => match.Success)
                    .Select(match => (Hex(match.Groups["address"].Value), match.Groups["text"].Value.Trim())),
            ];
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Dictionary<string, (ulong Address, ulong Size)> DynamicFunctionSymbols(string elfPath)
    {
        var symbols = new Dictionary<string, (ulong Address, ulong Size)>();
        foreach (string line in Run("nm", "-D", "-S", "--defined-only", elfPath))
        {
            Match match = NmLine().Match(line);
            if (match.Success)
            {
                symbols.TryAdd(match.Groups["name"].Value, (Hex(match.Groups["address"].Value), Hex(match.Groups["size"].Value)));
            }
        }

        return symbols;
    }

    private static NativeFunction Disassemble(string elfPath, string name, ulong address, ulong size)
    {
        var bytes = new List<byte>();
        var starts = new HashSet<ulong>();
        string[] output = Run(
            "objdump", "-d", "-w", $"--start-address=0x{address:x}", $"--stop-address=0x{address + size:x}", elfPath);
        foreach (string line in output)
        {
            Match match = ObjdumpLine().Match(line);
            if (!match.Success)
            {
                continue;
            }

            starts.Add(Hex(match.Groups["address"].Value));
            bytes.AddRange(match.Groups["bytes"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(b => (byte)Hex(b)));
        }

        if ((ulong)bytes.Count != size)
        {
            throw new InvalidOperationException($"objdump gave {bytes.Count} bytes of {name}, whose symbol size is {size}");
        }

        return new NativeFunction(name, address, [.. bytes], starts);
    }

    private static string[] Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {error.Result}");
        }

        return output.Split('\n');
    }

    private static ulong Hex(string text)
    {
        return ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    // "000000000003f0b0 00000000000000cc T getenv@@GLIBC_2.2.5"
    [GeneratedRegex(@"^(?<address>[0-9a-f]+) (?<size>[0-9a-f]+) [TtWw] (?<name>[^@\s]+)")]
    private static partial Regex NmLine();

    // "   3f0be:\t48 8b 05 cb 3e 19 00 \tmov    0x193ecb(%rip),%rax" (with -w, one line per instruction)
    [GeneratedRegex(@"^\s*(?<address>[0-9a-f]+):\t(?<bytes>(?:[0-9a-f]{2} )+)\s*\t?(?<text>.*)$")]
    private static partial Regex ObjdumpLine();
}
