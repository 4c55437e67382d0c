using System.Text;
using Graft.Linux.Inspection;
using Graft.Patching.Target;

namespace Graft.Patching.Loading;

/// <summary>
/// Loads and unloads a patch with the target's own dynamic linker (dlopen/dlclose run as
/// injected calls), so relocations, dependencies, constructors, TLS and unwind registration are
/// all done the way the program's own libraries get them. A call still running at its timeout (a
/// constructor that waits) is left to run on: the thread holds the loader's lock, and put back
/// in the middle it would hold it for ever (<see cref="Linux.Tracing.InjectionException.RunsOn"/>).
/// </summary>
internal sealed class RemoteLoader(TargetProcess target, StateStore store)
{
    private const ulong RTLD_NOW = 2;
    private const ulong RTLD_NOLOAD = 4;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>dlopen()s the file within <paramref name="deadline"/>; returns the handle (a struct link_map*).</summary>
    public ulong Open(int tid, string path, Deadline deadline)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        if (bytes.Length > Model.State.StateLayout.ScratchSize)
        {
            throw new GraftException(GraftFailure.Refused, $"patch path is longer than {Model.State.StateLayout.ScratchSize} bytes");
        }

        target.Memory.Write(store.Scratch, bytes);
        var handle = Call(tid, deadline.Bound(CallTimeout), "dlopen", store.Scratch, RTLD_NOW);
        return handle != 0
            ? handle
            : throw new GraftException(GraftFailure.Refused, $"the dynamic linker of process {target.Pid} cannot load {path}: {LastError(tid)}");
    }

    /// <summary>The handle of a file the process has loaded already, without loading anything; 0 if it has not.</summary>
    public ulong FindLoaded(int tid, string path)
    {
        target.Memory.Write(store.Scratch, Encoding.UTF8.GetBytes(path + "\0"));
        return Call(tid, CallTimeout, "dlopen", store.Scratch, RTLD_NOW | RTLD_NOLOAD);
    }

    public void Close(int tid, ulong handle)
    {
        if (Call(tid, CallTimeout, "dlclose", handle) != 0)
        {
            throw new GraftException(GraftFailure.Internal, $"dlclose of a patch in process {target.Pid} failed: {LastError(tid)}");
        }
    }

    private string LastError(int tid)
    {
        var message = Call(tid, CallTimeout, "dlerror");
        return message == 0 ? "no reason given" : target.Memory.ReadCString(message);
    }

    /// <summary>
    /// dlopen and dlclose take the loader's lock. A thread graftd holds in the loader holds it
    /// too, so while they run library events are served (<see cref="Linux.Policies.LoaderWatch.Serve"/>):
    /// callers write the record before, and read it again after.
    /// </summary>
    private ulong Call(int tid, TimeSpan timeout, string function, params ulong[] args)
    {
        using (target.Loader?.Serve())
        {
            return target.CallRunningOnIfLate(tid, store.Trampoline, CLibrary.Function(target, function), timeout, args);
        }
    }

    /// <summary>The mapped image of a loaded object, found by its load bias (link_map.l_addr) in the refreshed memory map.</summary>
    public static LoadedModule ImageOf(TargetProcess target, ulong loadBias, string path)
    {
        target.Refresh();
        return target.Modules.Modules.FirstOrDefault(m => !m.IsVdso && m.LoadBias == loadBias)
            ?? throw new GraftException(GraftFailure.Internal, $"{path} was loaded into process {target.Pid} but is not in its memory map");
    }
}
