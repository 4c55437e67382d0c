using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Patching.Service;

namespace Graft.Patching.Audit;

/// <summary>
/// An operation on its way to the audit trail: what graft learns of its patch is noted as it
/// reads it (the file's SHA-256 and the signer its signature names as soon as the bytes are read,
/// the name and the verified signer once the file is accepted), so that a refusal is recorded
/// with what was known when it came.
/// </summary>
internal sealed class AuditedOperation(ServiceRequest request)
{
    private string? name = request.Name;
    private string? sha256;
    private string? signer;

    /// <summary>Whether the operation goes to the audit trail: every one that may change the process.</summary>
    public static bool Covers(ServiceRequest request) => request.Command is "apply" or "revert" or "continue" or "unload";

    /// <summary>The file's bytes, read and not yet verified: its signer is the one it claims until the signature is checked.</summary>
    public void Saw(byte[] file)
    {
        sha256 = PatchFile.Sha256Of(file);
        try
        {
            signer = SignatureBlock.Split(file, "").Signature is { } claimed ? $"unverified sha256 {claimed.Signer}" : "unsigned";
        }
        catch (PatchFormatException)
        {
            signer = "malformed signature block";
        }
    }

    /// <summary>The patch as graft accepted it.</summary>
    public void Saw(PatchDefinition patch)
    {
        name = patch.Name;
        sha256 = patch.Sha256;
        signer = Described(patch.Signer);
    }

    public AuditRecord Ended(ServiceReply reply)
    {
        if (reply.Report is { } report)
        {
            name = report.PatchName;
            sha256 = report.Sha256 ?? sha256;
        }

        return Record(reply.Report?.InFlight is null ? "ok" : "timed out: the transition stays in flight (graft status shows it)");
    }

    public AuditRecord Failed(GraftException failure) => Record(failure.Failure switch
    {
        GraftFailure.Refused => "refused: ",
        GraftFailure.Timeout => "timed out: ",
        _ => "failed: ",
    } + failure.Message);

    private static string Described(PatchSigner? verified) => verified?.ToString() ?? "unsigned";

    private AuditRecord Record(string result) => new(request.Command, request.Pid, name, request.Patch, sha256, signer, result);
}
