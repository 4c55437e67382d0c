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
    // struct r_debug { int r_version; struct link_map *r_map; ElfW(Addr) r_brk; enum r_state; ElfW(Addr) r_ldbase; }
    private const ulong BrkOffset = 16;
    private const ulong StateOffset = 24;

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

    /// <summary>Where r_state lies in the process.</summary>
    public ulong StateAddress => address + StateOffset;

    /// <summary>The _r_debug of the process's dynamic linker; null for a static program, which loads nothing.</summary>
    public static LoaderDebugState? Find(ModuleMap modules, IMemory memory)
    {
        foreach (var module in modules.Modules.Where(m => !m.IsVdso))
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
