using System.Globalization;
using System.Text;
using Graft.Model.Signing;

namespace Graft.Patching.Audit;

/// <summary>
/// One operation for the audit trail: what was asked (apply, revert, continue, unload; enable and
/// disable in graftd's journal), on which
/// process, with which patch (its name, the file, the file's SHA-256 and its signer, or
/// "unsigned"), and how it ended: ok, "refused: ...", "failed: ..." or "timed out: ...".
/// What could not be learnt before a refusal (a patch refused before it was parsed has no
/// name yet; apply --all refused before any process was chosen has no pid) is "-", as is the pid
/// of graft enable and disable, which change graftd's host-wide list.
/// </summary>
public sealed record AuditRecord(string Operation, int Pid, string? Patch, string? File, string? Sha256, string? Signer, string Result)
{
    /// <summary>
    /// One line of key=value fields, who asked first; a value with spaces, quotes or an equals sign is
    /// in double quotes, with backslash escapes, and control characters are escaped everywhere.
    /// </summary>
    public string Line(Requester requester)
    {
        var fields = new List<(string, string?)>
        {
            ("uid", requester.Uid.ToString(CultureInfo.InvariantCulture)),
            ("loginuid", requester.LoginUid),
        };
        if (requester.PeerPid is { } peer)
        {
            fields.Add(("client_pid", peer.ToString(CultureInfo.InvariantCulture)));
        }
        else
        {
            fields.Add(("sudo_user", requester.SudoUser));
        }

        fields.AddRange([("op", Operation), ("pid", Pid == 0 ? null : Pid.ToString(CultureInfo.InvariantCulture)), ("patch", Patch), ("file", File),
            ("sha256", Sha256), ("signer", Signer), ("result", Result)]);
        return string.Join(' ', fields.Select(f => $"{f.Item1}={Value(f.Item2)}"));
    }

    /// <summary>The result of an operation that failed: "refused: ", "timed out: " or "failed: ", then why.</summary>
    public static string Outcome(GraftException failure) => failure.Failure switch
    {
        GraftFailure.Refused => "refused: ",
        GraftFailure.Timeout => "timed out: ",
        _ => "failed: ",
    } + failure.Message;

    /// <summary>The signer field of a patch graft accepted: whose signature it verified, or "unsigned".</summary>
    public static string Signed(PatchSigner? verified) => verified?.ToString() ?? "unsigned";

    private static string Value(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "-";
        }

        var escaped = new StringBuilder();
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                _ when char.IsControl(c) => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }

        return text.Any(c => c is ' ' or '"' or '=' or '\\') ? $"\"{escaped}\"" : escaped.ToString();
    }
}
