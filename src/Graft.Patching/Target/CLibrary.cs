using Graft.Elf;

namespace Graft.Patching.Target;

/// <summary>Functions of the target's C library that Graft calls inside it (dlopen, dlclose, __errno_location).</summary>
internal static class CLibrary
{
    /// <summary>Refuses, before anything is written, a process graft cannot load a patch into (a static executable).</summary>
    public static void RequireLoader(TargetProcess target)
    {
        foreach (var name in new[] { "dlopen", "dlclose", "dlerror" })
        {
            Function(target, name);
        }
    }

    /// <summary>A libc (glibc 2.34+) or libdl function, by its default symbol version.</summary>
    public static ulong Function(TargetProcess target, string name)
    {
        foreach (var module in target.Modules.Modules.Where(m => m.FileName.StartsWith("libc.so", StringComparison.Ordinal) || m.FileName.StartsWith("libdl.so", StringComparison.Ordinal)))
        {
            var symbol = module.Elf.DynamicSymbols
                .Where(s => s.Name == name && s.IsDefined && s.Type == ElfSymbolType.Func)
                .OrderBy(s => s.IsHiddenVersion)
                .FirstOrDefault();
            if (symbol is not null)
            {
                return module.LoadBias + symbol.Value;
            }
        }

        throw new GraftException(GraftFailure.Refused, $"process {target.Pid} has no {name}() (graft needs glibc's dynamic loading)");
    }
}
