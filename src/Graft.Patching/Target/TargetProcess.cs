using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Policies;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;

namespace Graft.Patching.Target;

/// <summary>A seized process with what Graft reads from it: its objects and its threads' stacks.</summary>
internal sealed class TargetProcess : IDisposable
{
    private TargetProcess(Tracee tracee)
    {
        Tracee = tracee;
        Modules = ModuleMap.Read(tracee.Pid, tracee.Memory);
        Unwinder = new StackUnwinder(Modules, tracee.Memory);
        tracee.DescribeFault = DescribeFault;
        MutexHandoff.Install(tracee);
    }

    public Tracee Tracee { get; }

    public int Pid => Tracee.Pid;

    public ModuleMap Modules { get; private set; }

    public StackUnwinder Unwinder { get; private set; }

    /// <summary>
    /// Whether patches may touch a mapped object (the kernel's mod->klp_alive): with graftd
    /// watching, an object the loader is still mapping is left to the library-coming handler,
    /// which applies every patch to it in order. Without a watcher every mapped object is.
    /// </summary>
    public Func<LoadedModule, bool> IsAlive { get; set; } = _ => true;

    /// <summary>graftd's watch of the dynamic linker, if it has one: its stops are served only within <see cref="LoaderWatch.Serve"/>.</summary>
    public LoaderWatch? Loader { get; set; }

    public static TargetProcess Attach(int pid)
    {
        Tracee tracee;
        try
        {
            tracee = Tracee.Seize(pid);
        }
        catch (TargetGoneException e)
        {
            throw new GraftException(GraftFailure.TargetGone, e.Message, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new GraftException(GraftFailure.NotPermitted, e.Message, e);
        }

        try
        {
            return new TargetProcess(tracee);
        }
        catch
        {
            tracee.Dispose();
            throw;
        }
    }

    /// <summary>Reads the memory map again, after Graft mapped or loaded something.</summary>
    public void Refresh()
    {
        Modules = ModuleMap.Read(Pid, Tracee.Memory, Modules);
        Unwinder = new StackUnwinder(Modules, Tracee.Memory);
    }

    /// <summary>
    /// Parses every object's unwind tables now, while the threads run, rather than on first
    /// use inside a stop-the-world window.
    /// </summary>
    public void PrepareUnwinding()
    {
        foreach (var module in Modules.Modules)
        {
            try
            {
                _ = module.Elf.EhFrame?.Entries.Count;
            }
            catch (Elf.ElfFormatException)
            {
                // The unwinder reports such an object as unreliable when a stack reaches it.
            }
        }
    }

    /// <summary>The stack of a stopped thread.</summary>
    public ThreadStack Stack(int tid) => Stack(tid, Tracee.GetRegisters(tid));

    /// <summary>The stack of a stopped thread whose registers the caller has already read.</summary>
    public ThreadStack Stack(int tid, UserRegs registers) => Unwinder.Unwind(tid, registers);

    public UserRegs Registers(int tid) => Tracee.GetRegisters(tid);

    /// <summary>Stops one thread while every other keeps running; null if it exited meanwhile.</summary>
    public StoppedThread? TryStop(int tid) => Tracee.Stop(tid) ? new StoppedThread(this, tid) : null;

    public void Dispose() => Tracee.Dispose();

    /// <summary>Where a thread that got a fatal signal stood: in a patch's code, in a graft slot, or in the program.</summary>
    private string DescribeFault(ulong pc)
    {
        var modules = ModuleMap.Read(Pid, Tracee.Memory, Modules);
        var state = new StateStore(modules, Tracee.Memory, Pid).Read();
        var module = modules.FindByAddress(pc);
        var symbol = module is null ? "" : $" ({module.Describe(pc)})";
        if (state.Patches.FirstOrDefault(p => pc >= p.ImageStart && pc < p.ImageEnd) is { } patch)
        {
            return $"0x{pc:x} in the code of patch '{patch.Name}'{symbol}";
        }

        return Redirect.Redirects.InSlotPages(state.SlotPages, pc)
            ? $"0x{pc:x} in a graft slot"
            : $"0x{pc:x} in the program{symbol}";
    }
}
