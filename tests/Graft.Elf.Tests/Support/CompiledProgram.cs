namespace Graft.Elf.Tests.Support;

/// <summary>A small executable built with gcc from three translation units, two of which define their own
/// <c>static int helper(void)</c>: the case old_sympos exists for.</summary>
public sealed class CompiledProgram : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"graft-elf-tests-{Guid.NewGuid():N}");

    public CompiledProgram()
    {
        if (!ExternalTool.Exists("gcc"))
        {
            return;
        }

        Directory.CreateDirectory(_directory);
        Write("first.c", "static int helper(void) { return 0x1111; }\nint first(void) { return helper(); }\n");
        Write("second.c", "static int helper(void) { return 0x2222; }\nint second(void) { return helper(); }\n");
        Write("main.c", "int first(void);\nint second(void);\nint counter;\nint main(void) { return first() + second() + counter; }\n");
        ExecutablePath = Path.Combine(_directory, "program");
        ExternalTool.Run("gcc", "-O0", "-o", ExecutablePath,
            Path.Combine(_directory, "first.c"),
            Path.Combine(_directory, "second.c"),
            Path.Combine(_directory, "main.c"));
    }

    /// <summary>The executable, or null when gcc is not installed.</summary>
    public string? ExecutablePath { get; }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_directory, name), text);
}
