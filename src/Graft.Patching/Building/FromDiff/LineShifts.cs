using System.Text.RegularExpressions;

namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// Where a unified diff moves the lines it leaves alone, file by file: a line above a hunk stays, a line below
/// moves by what the hunks above it add, a context line moves with its hunk, a removed line goes. A file the diff
/// patches twice (diffs one after the other, as a release's CVE patches come) moves through both in order.
/// </summary>
internal sealed partial class LineShifts
{
    private readonly Dictionary<string, List<List<Hunk>>> _files;

    private LineShifts(Dictionary<string, List<List<Hunk>>> files) => _files = files;

    public static LineShifts Parse(string diff)
    {
        var files = new Dictionary<string, List<List<Hunk>>>(StringComparer.Ordinal);
        List<Hunk>? hunks = null;
        Hunk? hunk = null;
        foreach (var line in diff.Split('\n'))
        {
            // A hunk's lines are read as many as its header counts: a removed line may begin with "-- ", an added one
            // with "++ ". An empty line is a blank context line whose space an editor or a mailer took off.
            if (hunk is { Left: > 0 } && (line.Length == 0 || line[0] is ' ' or '-' or '+'))
            {
                hunk.Add(line.Length == 0 ? ' ' : line[0]);
            }
            else if (line.StartsWith("+++ ", StringComparison.Ordinal))
            {
                var path = line[4..].Split('\t')[0].Trim();
                path = path.StartsWith("b/", StringComparison.Ordinal) ? path[2..] : path;
                hunks = [];
                hunk = null;
                if (!files.TryGetValue(path, out var patches))
                {
                    files[path] = patches = [];
                }

                patches.Add(hunks);
            }
            else if (hunks is not null && HunkHeader().Match(line) is { Success: true } header)
            {
                hunk = new Hunk(Count(header.Groups[1]), Count(header.Groups[2]), Count(header.Groups[3]), Count(header.Groups[4]));
                hunks.Add(hunk);
            }
        }

        return new LineShifts(files);
    }

    /// <summary>
    /// Whether the diff leaves line <paramref name="original"/> alone and moves it to <paramref name="patched"/>, in the
    /// file an object was compiled from (<paramref name="sourceFile"/>, matched by name) or in a header the diff patches
    /// (a macro or an inline function there): the files whose lines a __LINE__ in that object's code can name.
    /// </summary>
    public bool Moves(ulong original, ulong patched, string sourceFile) =>
        original != patched && original <= int.MaxValue && patched <= int.MaxValue
        && _files.Keys.Where(file => Path.GetFileName(file) == Path.GetFileName(sourceFile) || file.EndsWith(".h", StringComparison.Ordinal))
            .Any(file => Where(file, (int)original) == (int)patched);

    /// <summary>Where line <paramref name="line"/> of <paramref name="file"/> is once the diff is applied; null if the diff changes or removes it.</summary>
    public int? Where(string file, int line)
    {
        int? at = line;
        foreach (var hunks in _files.TryGetValue(file, out var patches) ? patches : [])
        {
            at = at is { } l ? Where(hunks, l) : null;
        }

        return at;
    }

    private static int? Where(List<Hunk> hunks, int line)
    {
        var shift = 0;
        foreach (var hunk in hunks)
        {
            if (line < hunk.OriginalStart)
            {
                break;
            }

            var (original, patched) = (hunk.OriginalStart, hunk.PatchedStart);
            foreach (var kind in hunk.Body)
            {
                if (kind == ' ' && original == line)
                {
                    return patched;
                }

                if (kind == '-' && original == line)
                {
                    return null;
                }

                original += kind == '+' ? 0 : 1;
                patched += kind == '-' ? 0 : 1;
            }

            shift = patched - original;
        }

        return line + shift;
    }

    private static int Count(Group group) => group.Success ? int.Parse(group.Value) : 1;

    /// <summary>One hunk: where it starts on each side, and its lines' kinds (' ', '-', '+') as many as its header counts.</summary>
    private sealed class Hunk(int originalStart, int originalCount, int patchedStart, int patchedCount)
    {
        private int _originalLeft = originalCount;
        private int _patchedLeft = patchedCount;

        // A side of no lines names the line before the hunk (@@ -10,0 +11,2 @@ adds two lines after line 10).
        public int OriginalStart { get; } = originalCount == 0 ? originalStart + 1 : originalStart;

        public int PatchedStart { get; } = patchedCount == 0 ? patchedStart + 1 : patchedStart;

        public List<char> Body { get; } = [];

        public int Left => _originalLeft + _patchedLeft;

        public void Add(char kind)
        {
            Body.Add(kind);
            _originalLeft -= kind == '+' ? 0 : 1;
            _patchedLeft -= kind == '-' ? 0 : 1;
        }
    }

    [GeneratedRegex(@"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")]
    private static partial Regex HunkHeader();
}
