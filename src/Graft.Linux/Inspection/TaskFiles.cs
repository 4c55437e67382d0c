using System.Buffers.Text;
using System.Globalization;

namespace Graft.Linux.Inspection;

/// <summary>
/// One thread's files under /proc/&lt;pid&gt;/task/&lt;tid&gt;, read while it runs. Each read is
/// a snapshot; null when the thread is gone.
/// </summary>
public static class TaskFiles
{
    /// <summary>Its name (comm), as prctl(PR_SET_NAME) or pthread_setname_np set it.</summary>
    public static string? Name(int pid, int tid) => Read(pid, tid, "comm")?.TrimEnd('\n');

    /// <summary>The system call it is blocked in (the first field of its syscall file); null while it runs, or when it is gone.</summary>
    public static long? BlockedInSyscall(int pid, int tid) =>
        Read(pid, tid, "syscall") is { } line && long.TryParse(line.Split(' ')[0], CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    /// <summary>
    /// The pc of a thread asleep in a system call (the last field of its syscall file); null
    /// while it runs, when it is stopped outside a system call (the file's number is -1 there,
    /// as at a trap), or when it is gone.
    /// </summary>
    public static ulong? AsleepInSyscallAt(int pid, int tid)
    {
        var fields = Read(pid, tid, "syscall")?.TrimEnd('\n').Split(' ');
        return fields is { Length: > 2 } && long.TryParse(fields[0], CultureInfo.InvariantCulture, out var number) && number >= 0
            && fields[^1].StartsWith("0x", StringComparison.Ordinal)
            && ulong.TryParse(fields[^1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var pc)
            ? pc
            : null;
    }

    /// <summary>The signals it blocks (SigBlk of its status file; SIGKILL and SIGSTOP never show).</summary>
    public static ulong? BlockedSignals(int pid, int tid)
    {
        var line = Read(pid, tid, "status")?.Split('\n').FirstOrDefault(l => l.StartsWith("SigBlk:", StringComparison.Ordinal));
        return line is not null && ulong.TryParse(line["SigBlk:".Length..].Trim(), NumberStyles.HexNumber, null, out var blocked)
            ? blocked
            : null;
    }

    /// <summary>
    /// How long it has run on a CPU, in nanoseconds (the first field of its schedstat); null when
    /// it is gone. Read into the stack with no allocation but the handle's: graft's settle reads
    /// it for every thread every few milliseconds.
    /// </summary>
    public static ulong? RunTime(int pid, int tid)
    {
        // Three decimal u64s and their separators: 63 bytes at most.
        Span<byte> line = stackalloc byte[64];
        int length;
        try
        {
            using var handle = File.OpenHandle($"/proc/{pid}/task/{tid}/schedstat");
            length = RandomAccess.Read(handle, line, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var read = line[..length];
        var space = read.IndexOf((byte)' ');
        return Utf8Parser.TryParse(space < 0 ? read : read[..space], out ulong nanoseconds, out var consumed) && consumed > 0
            ? nanoseconds
            : null;
    }

    private static string? Read(int pid, int tid, string file)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/task/{tid}/{file}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
