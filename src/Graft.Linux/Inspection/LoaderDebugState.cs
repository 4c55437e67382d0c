using Graft.Linux.Tracing;

namespace Graft.Linux.Inspection;

/// <summary>
/// The dynamic linker's debugger interface (glibc's &lt;link.h&gt;, struct r_debug), exported by
/// ld.so as _r_debug: r_brk is the function the loader calls whenever its list of objects
/// changes, and r_state says how (RT_ADD before mapping new objects, RT_DELETE before unmapping
/// some, RT_CONSISTENT once the list is whole again).
/// </summary>
public sealed class LoaderDebugState
{
    // struct r_debug { int r_version; struct link_map *r_map; ElfW(Addr) r_brk; enum r_state; ElfW(Addr) r_ldbase; },
    // extended (r_version 2 on, glibc 2.35) by struct r_debug_extended *r_next: the next namespace's.
    private const ulong MapOffset = 8;
    private const ulong BrkOffset = 16;
    private const ulong StateOffset = 24;
    private const ulong NextOffset = 40;

    // struct link_map { ElfW(Addr) l_addr; char *l_name; ElfW(Dyn) *l_ld; struct link_map *l_next, *l_prev; }
    private const ulong NameOffset = 8;
    private const ulong LinkNextOffset = 24;

    // Far above any real process: a list the program corrupted into a cycle ends here.
    private const int MaxObjects = 65536;

    private readonly IMemory memory;
    private readonly ulong address;

    private LoaderDebugState(IMemory memory, ulong address)
    {
        this.memory = memory;
        this.address = address;
    }

    /// <summary>_dl_debug_state in ld.so.</summary>
    public ulong Brk => memory.ReadUInt64(address + BrkOffset);

    public LoaderState State => (LoaderState)memory.ReadUInt32(address + StateOffset);

    /// <summary>_r_debug itself.</summary>
    public ulong Address => address;

    /// <summary>
    /// The name (l_name) of every object in the loader's lists, in every namespace: r_map of
    /// _r_debug, then of each r_debug chained by r_next. The main program's is empty.
    /// </summary>
    public List<string> ObjectNames()
    {
        var names = new List<string>();
        for (var debug = address; debug != 0 && names.Count < MaxObjects; debug = memory.ReadUInt32(debug) >= 2 ? memory.ReadUInt64(debug + NextOffset) : 0)
        {
            foreach (var map in LinkMaps(debug, MaxObjects - names.Count))
            {
                var name = memory.ReadUInt64(map + NameOffset);
                names.Add(name == 0 ? "" : memory.ReadCString(name));
            }
        }

        return names;
    }

    /// <summary>
    /// The load bias (l_addr) of every object in the first namespace's list, r_map of _r_debug itself: the program
    /// and what it loads with dlopen, not what dlmopen loads into namespaces of their own.
    /// </summary>
    public HashSet<ulong> FirstNamespaceBiases() => [.. LinkMaps(address, MaxObjects).Select(map => memory.ReadUInt64(map))];

    /// <summary>The link_maps of one namespace's list (r_map of the r_debug at <paramref name="debug"/>), at most <paramref name="most"/>.</summary>
    private IEnumerable<ulong> LinkMaps(ulong debug, int most)
    {
        for (var map = memory.ReadUInt64(debug + MapOffset); map != 0 && most-- > 0; map = memory.ReadUInt64(map + LinkNextOffset))
        {
            yield return map;
        }
    }

    /// <summary>The _r_debug of the process's dynamic linker; null for a static program, which loads nothing.</summary>
    public static LoaderDebugState? Find(ModuleMap modules, IMemory memory)
    {
        // The dynamic linker defines it: looked at first, so that no other object's symbols are read for it.
        foreach (var module in modules.Modules.Where(m => !m.IsVdso).OrderBy(m => m.FileName.StartsWith("ld-linux", StringComparison.Ordinal) ? 0 : 1))
        {
            var symbol = module.Elf.DynamicSymbols.FirstOrDefault(s => s.Name == "_r_debug" && s.IsDefined);
            if (symbol is not null)
            {
                return new LoaderDebugState(memory, module.LoadBias + symbol.Value);
            }
        }

        return null;
    }
}

/// <summary>enum r_state of &lt;link.h&gt;.</summary>
public enum LoaderState
{
    Consistent = 0,
    Adding = 1,
    Deleting = 2,
}
