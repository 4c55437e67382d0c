namespace Graft.Linux.Seccomp;

/// <summary>
/// The actions a seccomp filter returns (&lt;linux/seccomp.h&gt;), by the value of their upper 16
/// bits. The kernel ranks them as signed 32-bit numbers: the lowest is the most restrictive.
/// </summary>
public enum SeccompAction : uint
{
    KillProcess = 0x80000000,
    KillThread = 0x00000000,
    Trap = 0x00030000,
    Errno = 0x00050000,
    UserNotif = 0x7fc00000,
    Trace = 0x7ff00000,
    Log = 0x7ffc0000,
    Allow = 0x7fff0000,
}

/// <summary>A filter's return value: the action in the upper 16 bits, its data (an errno, a trace message) in the lower.</summary>
public readonly record struct SeccompResult(uint Value)
{
    /// <summary>SECCOMP_RET_ACTION_FULL.</summary>
    public const uint ActionMask = 0xffff0000;

    public static readonly SeccompResult Allowed = new((uint)SeccompAction.Allow);

    /// <summary>The action the kernel takes: one it does not know kills the process.</summary>
    public SeccompAction Action => Enum.IsDefined((SeccompAction)(Value & ActionMask)) ? (SeccompAction)(Value & ActionMask) : SeccompAction.KillProcess;

    public ushort Data => (ushort)Value;

    /// <summary>Whether the system call runs (SECCOMP_RET_LOG only adds an audit record).</summary>
    public bool Runs => Action is SeccompAction.Allow or SeccompAction.Log;

    /// <summary>The C name of the action, e.g. SECCOMP_RET_KILL_PROCESS.</summary>
    public string ActionName => Action switch
    {
        SeccompAction.KillProcess => "SECCOMP_RET_KILL_PROCESS",
        SeccompAction.KillThread => "SECCOMP_RET_KILL_THREAD",
        SeccompAction.Trap => "SECCOMP_RET_TRAP",
        SeccompAction.Errno => "SECCOMP_RET_ERRNO",
        SeccompAction.UserNotif => "SECCOMP_RET_USER_NOTIF",
        SeccompAction.Trace => "SECCOMP_RET_TRACE",
        SeccompAction.Log => "SECCOMP_RET_LOG",
        _ => "SECCOMP_RET_ALLOW",
    };

    /// <summary>Whether this action is strictly more restrictive than <paramref name="other"/>'s, in the kernel's order.</summary>
    public bool IsMoreRestrictiveThan(SeccompResult other) => (int)(Value & ActionMask) < (int)(other.Value & ActionMask);
}
