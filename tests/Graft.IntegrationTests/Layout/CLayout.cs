using System.Globalization;

namespace Graft.IntegrationTests.Layout;

/// <summary>One member of a C struct: where it is and how big it is.</summary>
internal sealed record CField(string Name, int Offset, int Size);

/// <summary>Struct layouts and macro values as gcc sees them, printed by layout.c.</summary>
internal sealed class CLayout
{
    private readonly Dictionary<string, int> sizes = [];
    private readonly Dictionary<string, List<CField>> fields = [];
    private readonly Dictionary<string, long> defines = [];

    public static CLayout Parse(string output)
    {
        var layout = new CLayout();
        foreach (var words in output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ')))
        {
            switch (words)
            {
                case ["struct", var name, var size]:
                    layout.sizes[name] = Number(size);
                    layout.fields[name] = [];
                    break;
                case ["field", var owner, var name, var offset, var size]:
                    layout.fields[owner].Add(new CField(name, Number(offset), Number(size)));
                    break;
                case ["define", var name, var value]:
                    layout.defines[name] = long.Parse(value, CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new FormatException($"layout.c printed a line this parser does not know: {string.Join(' ', words)}");
            }
        }

        return layout;
    }

    public int SizeOf(string structName) => sizes[structName];

    /// <summary>The members layout.c lists, in declaration order.</summary>
    public IReadOnlyList<CField> FieldsOf(string structName) => fields[structName];

    public CField Field(string structName, string member) => fields[structName].Single(field => field.Name == member);

    public long Define(string name) => defines[name];

    private static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
