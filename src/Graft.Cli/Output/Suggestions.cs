using System.CommandLine;

namespace Graft.Cli.Output;

/// <summary>
/// For a word graft did not understand, the names of the command's subcommands and options it was probably meant to
/// be: those at most one edit away per three letters (an edit: a letter added, dropped, changed, or two swapped).
/// </summary>
internal static class Suggestions
{
    public static IReadOnlyList<string> For(string token, Command command)
    {
        var names = command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name))
            .Concat(command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)));
        var allowed = Math.Max(1, token.Length / 3);
        return [.. names.Distinct().Where(name => name != token && Edits(token, name) <= allowed).Order(StringComparer.Ordinal)];
    }

    /// <summary>The optimal string alignment distance: Levenshtein's, with a swap of two neighbours as one edit.</summary>
    public static int Edits(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
