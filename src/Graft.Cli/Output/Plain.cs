namespace Graft.Cli.Output;

/// <summary>
/// The format of output read by scripts (stdout not a terminal): one record per line, its fields
/// separated by one tab, an empty field written "-", control characters escaped, so that a name
/// never spans two lines or two fields and `grep`, `cut -f` and `awk -F'\t'` take lines apart.
/// Sentences that are not records (nothing to list, hints) go to stderr.
/// </summary>
internal static class Plain
{
    public static void Record(params string?[] fields) =>
        Console.WriteLine(string.Join('\t', fields.Select(f => string.IsNullOrEmpty(f) ? "-" : Escaped.Line(f))));

    public static void Note(string sentence) => Console.Error.WriteLine(Escaped.Line(sentence));
}
