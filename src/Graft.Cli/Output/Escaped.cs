using System.Globalization;
using System.Text;

namespace Graft.Cli.Output;

/// <summary>
/// Text from outside graft (a path, a name read from a file) printed on one line: control
/// characters become escapes, so that nothing can end graft's line early, forge a
/// `graft: error:` line of its own, or drive the operator's terminal.
/// </summary>
internal static class Escaped
{
    public static string Line(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when char.IsControl(c) => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => c.ToString(),
            });
        }

        return escaped.ToString();
    }
}
