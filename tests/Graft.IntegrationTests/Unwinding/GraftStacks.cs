using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>Every thread of a process unwound by Graft while all of them are stopped.</summary>
internal sealed record GraftStacks(ModuleMap Modules, IReadOnlyDictionary<int, ThreadStack> Stacks)
{
    /// <summary>Seizes the process, stops every thread, unwinds each, and detaches.</summary>
    public static GraftStacks Read(int pid) => PtraceThread.Run(() =>
    {
        using var tracee = Tracee.Seize(pid);
        tracee.StopAll("unwinding");
        var modules = ModuleMap.Read(pid, tracee.Memory);
        var unwinder = new StackUnwinder(modules, tracee.Memory);
        var stacks = tracee.ThreadIds.ToDictionary(tid => tid, tid => unwinder.Unwind(tid, tracee.GetRegisters(tid)));
        return new GraftStacks(modules, stacks);
    });

    /// <summary>Where an address is, by Graft's symbol tables (which lack the names only debug information has).</summary>
    public string Symbolize(ulong address) => Modules.FindByAddress(address) is { } module
        ? $"{module.Describe(address)} ({module.FileName})"
        : "(no object)";
}
