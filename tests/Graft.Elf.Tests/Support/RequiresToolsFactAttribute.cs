namespace Graft.Elf.Tests.Support;

/// <summary>A fact that is skipped, saying why, when a reference tool is not installed.</summary>
public sealed class RequiresToolsFactAttribute : FactAttribute
{
    public RequiresToolsFactAttribute(params string[] tools)
    {
        string[] missing = tools.Where(t => !ExternalTool.Exists(t)).ToArray();
        if (missing.Length > 0)
        {
            Skip = $"needs {string.Join(", ", missing)} on PATH as the reference; not installed here";
        }
    }
}
