using Graft.Linux.Interop;

namespace Graft.Linux.Trust;

/// <summary>
/// Who may change a process's code with graft: root, or a user holding CAP_SYS_PTRACE, the
/// capability the kernel asks of whoever traces another user's process. Owning the process is
/// not enough: patching is an operator's act, under the host's policy (the patch file's owner,
/// signatures, the audit trail), and a user who only owns the process would be outside it.
/// </summary>
public static class Privilege
{
    // linux/capability.h
    private const int CapSysPtrace = 19;

    /// <summary>Whether this process may patch: effective uid 0, or CAP_SYS_PTRACE in its effective set.</summary>
    public static bool MayPatch() => Files.geteuid() == 0 || HasEffective(CapSysPtrace);

    /// <summary>The refusal of <paramref name="what"/> to a caller that may not patch, in one line.</summary>
    public static string Refusal(string what) =>
        $"{what} needs root or CAP_SYS_PTRACE: graft runs as uid {Files.geteuid()} without it";

    /// <summary>The effective capability set, as /proc/self/status gives it ("CapEff:\t000001ffffffffff").</summary>
    private static bool HasEffective(int capability)
    {
        const string field = "CapEff:";
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is not null && ((Convert.ToUInt64(line[field.Length..].Trim(), 16) >> capability) & 1) != 0;
    }
}
