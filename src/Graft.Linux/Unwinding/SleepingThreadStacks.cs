using System.Globalization;
using System.Text;
using Graft.Linux.Interop;
using Microsoft.Win32.SafeHandles;

namespace Graft.Linux.Unwinding;

/// <summary>
/// The stack of a thread asleep in a system call, read without stopping it. /proc's syscall
/// file gives the thread's user stack pointer and pc while it sleeps there; the unwinder reads
/// its stack from them; schedstat, read before and after, proves that the thread did not run
/// in between (its run time and its count of times on a CPU are unchanged), so the stack read
/// is the one it had all along. Good for a question whose answer cannot go stale once the
/// thread runs again: whether it is inside code no thread can enter any more. Each thread's
/// two files are opened once and read again from their start.
/// </summary>
public sealed class SleepingThreadStacks(int pid) : IDisposable
{
    private readonly Dictionary<int, (SafeFileHandle Schedstat, SafeFileHandle Syscall)> files = [];
    private readonly byte[] buffer = new byte[256];

    /// <summary>The thread's whole stack (reliable), or null if it ran meanwhile, is not asleep in a system call, or is gone: then stop it and look.</summary>
    public ThreadStack? TryRead(int tid, StackUnwinder unwinder)
    {
        if (Open(tid) is not { } thread)
        {
            return null;
        }

        if (Read(thread.Schedstat) is not { } before || Read(thread.Syscall) is not { } syscall || !TryParseSleep(syscall, out var sp, out var pc))
        {
            return null;
        }

        var stack = unwinder.UnwindInSystemCall(tid, pc, sp);
        return stack.IsReliable && Read(thread.Schedstat) == before && Read(thread.Syscall) == syscall ? stack : null;
    }

    private (SafeFileHandle Schedstat, SafeFileHandle Syscall)? Open(int tid)
    {
        if (files.TryGetValue(tid, out var open))
        {
            return open;
        }

        try
        {
            var task = $"/proc/{pid}/task/{tid}";
            var schedstat = File.OpenHandle($"{task}/schedstat");
            open = (schedstat, File.OpenHandle($"{task}/syscall"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        files[tid] = open;
        return open;
    }

    /// <summary>
    /// "nr arg1 .. arg6 sp pc" of a thread asleep in a system call that returns to the stack at sp; "running", -1 (in the
    /// kernel but in no system call), exit and exit_group are not. A thread in exit has given its stack back: the
    /// kernel clears its tid early in do_exit (mm_release, for CLONE_CHILD_CLEARTID), glibc then hands that stack and
    /// thread pointer to the next thread created, and the exiting thread may still sleep in do_exit after that (on the
    /// mmap lock in exit_mm, or later). Read from its sp, the stack is the new thread's outermost frames alone, clean
    /// whatever that thread runs further down: a proposal made from it would switch the new thread mid-call.
    /// </summary>
    internal static bool TryParseSleep(string line, out ulong sp, out ulong pc)
    {
        sp = pc = 0;
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 9
            && long.TryParse(words[0], CultureInfo.InvariantCulture, out var number) && number >= 0
            && number is not (Syscalls.SYS_exit or Syscalls.SYS_exit_group)
            && ulong.TryParse(words[7].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out sp)
            && ulong.TryParse(words[8].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out pc);
    }

    /// <summary>The file's text from its start; null once the thread has gone.</summary>
    private string? Read(SafeFileHandle file)
    {
        try
        {
            var length = RandomAccess.Read(file, buffer, 0);
            return Encoding.ASCII.GetString(buffer, 0, length).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        foreach (var (schedstat, syscall) in files.Values)
        {
            schedstat.Dispose();
            syscall.Dispose();
        }

        files.Clear();
    }
}
