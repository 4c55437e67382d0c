using Graft.Linux.Tracing;

namespace Graft.Linux.Inspection;

/// <summary>A thread as glibc lists it: its id, its thread pointer (fs_base), and whether glibc allocated its stack.</summary>
public sealed record GlibcThread(int Tid, ulong ThreadPointer, bool StackFromGlibc);

/// <summary>
/// The threads glibc knows in a process, read from outside while they run, as libthread_db reads them for a debugger:
/// the lists <c>_rtld_global._dl_stack_used</c> (stacks glibc allocated) and <c>_dl_stack_user</c> (the main thread,
/// and stacks the program gave), walked with the field offsets glibc publishes for that purpose in its
/// <c>_thread_db_*</c> descriptors (bit size, count, offset), so that no offset of glibc's internals is built in.
/// </summary>
/// <remarks>
/// The lists change while threads start and exit, so a walk is bounded and every entry is checked: a thread counts only
/// when its <c>struct pthread</c> names a thread that is alive. The kernel writes that tid when the thread is created
/// (CLONE_PARENT_SETTID) and clears it when the thread exits (CLONE_CHILD_CLEARTID), so a struct left by an exited
/// thread names no live one.
/// </remarks>
public static class GlibcThreads
{
    private const int MostThreads = 1 << 16;

    /// <summary>
    /// The live threads among <paramref name="liveTids"/> that glibc lists, or null when the process has no glibc with
    /// thread_db descriptors (a static executable, another C library), or a walk did not end where it began.
    /// </summary>
    public static IReadOnlyList<GlibcThread>? Read(ModuleMap modules, IMemory memory, IReadOnlyCollection<int> liveTids)
    {
        ArgumentNullException.ThrowIfNull(modules);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(liveTids);
        var libc = modules.Modules.FirstOrDefault(m => m.FileName.StartsWith("libc.so", StringComparison.Ordinal));
        var loader = modules.Modules.FirstOrDefault(m => m.FileName.StartsWith("ld-linux", StringComparison.Ordinal));
        if (libc is null || loader is null)
        {
            return null;
        }

        try
        {
            var fields = new[] { "pthread_tid", "pthread_list", "list_t_next", "rtld_global__dl_stack_used", "rtld_global__dl_stack_user" }
                .Select(name => Field(libc, memory, name)).ToArray();
            if (fields.Any(f => f is null))
            {
                return null;
            }

            var (tid, list, next) = (fields[0]!.Value, fields[1]!.Value, fields[2]!.Value);
            var rtldGlobal = loader.LoadBias + Symbol(loader, "_rtld_global")!.Value;
            var threads = new List<GlibcThread>();
            foreach (var (head, fromGlibc) in new[] { (rtldGlobal + fields[3]!.Value, true), (rtldGlobal + fields[4]!.Value, false) })
            {
                var element = memory.ReadUInt64(head + next);
                for (var steps = 0; element != head; steps++)
                {
                    if (steps == MostThreads || element == 0)
                    {
                        return null;
                    }

                    var threadPointer = element - list;
                    var threadId = (int)memory.ReadUInt32(threadPointer + tid);
                    if (liveTids.Contains(threadId))
                    {
                        threads.Add(new GlibcThread(threadId, threadPointer, fromGlibc));
                    }

                    element = memory.ReadUInt64(element + next);
                }
            }

            return threads;
        }
        catch (RemoteMemoryException)
        {
            // A list read while it changed: the caller does without.
            return null;
        }
    }

    /// <summary>
    /// Where <paramref name="thread"/>'s stack lies in <paramref name="mappings"/>, or null where that is not certain. The
    /// main thread's is the "[stack]" mapping. A stack glibc allocated is one mapping (its guard page is another), with
    /// the thread's static TLS and <c>struct pthread</c> at its top, where the thread pointer points: the stack is what lies
    /// below. A stack the program gave may lie in any mapping, among other data.
    /// </summary>
    public static (ulong Low, ulong High)? Stack(GlibcThread thread, int pid, IReadOnlyList<MemoryMapping> mappings)
    {
        ArgumentNullException.ThrowIfNull(thread);
        ArgumentNullException.ThrowIfNull(mappings);
        if (thread.Tid == pid)
        {
            return mappings.FirstOrDefault(m => m.Path == "[stack]") is { } stack ? (stack.Start, stack.End) : null;
        }

        return thread.StackFromGlibc && mappings.FirstOrDefault(m => m.Contains(thread.ThreadPointer)) is { } block
            ? (block.Start, thread.ThreadPointer)
            : null;
    }

    /// <summary>The byte offset a descriptor gives, when libc has it and it describes one field.</summary>
    private static ulong? Field(LoadedModule libc, IMemory memory, string name)
    {
        if (Symbol(libc, $"_thread_db_{name}") is not { } symbol)
        {
            return null;
        }

        var descriptor = memory.Read(libc.LoadBias + symbol.Value, 12);
        var count = BitConverter.ToUInt32(descriptor, 4);
        return count == 1 ? BitConverter.ToUInt32(descriptor, 8) : null;
    }

    private static Elf.ElfSymbol? Symbol(LoadedModule module, string name) =>
        module.IsVdso ? null : module.Elf.DynamicSymbols.FirstOrDefault(s => s.Name == name && s.IsDefined);
}
