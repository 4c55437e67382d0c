namespace Graft.Patching.Audit;

/// <summary>
/// Who asked for an operation, for the audit trail: the uid, the login uid the kernel keeps
/// across su and sudo (/proc/PID/loginuid, "unset" for a process no login started), and, for a
/// graft command, SUDO_USER; for graftd, the pid of the graft command at the socket's other end.
/// </summary>
public sealed record Requester(uint Uid, string LoginUid, string? SudoUser, int? PeerPid)
{
    /// <summary>The login uid of a process no login session started.</summary>
    private const string UnsetLoginUid = "4294967295";

    /// <summary>This process (a graft command running the operation itself).</summary>
    public static Requester Self() => new(UidOf("self"), LoginUidOf("self"), Environment.GetEnvironmentVariable("SUDO_USER"), PeerPid: null);

    /// <summary>The process at the other end of graftd's socket, by the credentials the kernel gave with the connection.</summary>
    public static Requester Peer(int pid, uint uid) => new(uid, LoginUidOf(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), SudoUser: null, pid);

    /// <summary>The real uid, from the Uid: line of /proc/PID/status (real, effective, saved, filesystem).</summary>
    private static uint UidOf(string process) =>
        uint.Parse(File.ReadLines($"/proc/{process}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

    private static string LoginUidOf(string process)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{process}/loginuid").Trim();
            return text == UnsetLoginUid ? "unset" : text;
        }
        catch (IOException)
        {
            // A kernel without audit support has no loginuid, and a peer may have exited.
            return "unknown";
        }
    }
}
