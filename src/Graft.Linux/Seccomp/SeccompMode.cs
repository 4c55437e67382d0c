namespace Graft.Linux.Seccomp;

/// <summary>A thread's seccomp mode, the "Seccomp:" field of its /proc status (SECCOMP_MODE_*).</summary>
public enum SeccompMode
{
    Disabled = 0,

    /// <summary>Only read, write, _exit and sigreturn: any other system call kills the thread (SIGKILL).</summary>
    Strict = 1,

    Filter = 2,
}

/// <summary>Reading a thread's mode without stopping it: seccomp state belongs to each thread, not to the process.</summary>
public static class SeccompStatus
{
    /// <summary>The thread's mode; null if it is gone. A kernel built without seccomp has no such field: disabled.</summary>
    public static SeccompMode? Read(int pid, int tid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/task/{tid}/status").FirstOrDefault(l => l.StartsWith("Seccomp:", StringComparison.Ordinal));
            return line is not null && int.TryParse(line["Seccomp:".Length..].Trim(), out var mode) ? (SeccompMode)mode : SeccompMode.Disabled;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
