using System.Globalization;
using System.Text.RegularExpressions;

namespace Graft.IntegrationTests.Support;

/// <summary>The malloc arenas graft's warnings say a rolled-back operation left in the process (ArenaWitness), and the threads they name.</summary>
internal static partial class ArenaWarnings
{
    public sealed record LeftArena(int Pid, IReadOnlyList<int> Threads, ulong Start);

    public static IReadOnlyList<LeftArena> In(IEnumerable<string> stderr) =>
        [.. stderr.Select(line => Warning().Match(line)).Where(m => m.Success).Select(m => new LeftArena(
            int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture),
            [.. m.Groups["threads"].Value.Split(", ").Select(t => int.Parse(t, CultureInfo.InvariantCulture))],
            ulong.Parse(m.Groups["start"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)))];

    [GeneratedRegex(@"^graft: warning: process (?<pid>\d+) keeps a malloc arena that appeared while graft's calls ran on thread (?<threads>\d+(, \d+)*), not the main thread \(glibc gives a thread an arena at its first malloc or free, and never unmaps it\): 64 MiB of address space at 0x(?<start>[0-9a-f]+), \d+ KiB of it in use$")]
    private static partial Regex Warning();
}
