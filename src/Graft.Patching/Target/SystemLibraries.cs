using Graft.Linux.Inspection;

namespace Graft.Patching.Target;

/// <summary>The objects whose internal locks (malloc's, the loader's, stdio's) an injected call needs for itself.</summary>
internal static class SystemLibraries
{
    public static bool Contains(LoadedModule? module) => module is not null
        && (module.FileName.StartsWith("libc.so", StringComparison.Ordinal)
            || module.FileName.StartsWith("ld-linux", StringComparison.Ordinal)
            || module.FileName.StartsWith("libpthread.so", StringComparison.Ordinal)
            || module.FileName.StartsWith("libdl.so", StringComparison.Ordinal));
}
