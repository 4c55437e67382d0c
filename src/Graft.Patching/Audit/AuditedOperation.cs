using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Patching.Service;

namespace Graft.Patching.Audit;

/// <summary>
/// An operation on its way to the audit trail: what graft learns of its patch is noted as it
/// reads it (the signer its signature names as soon as the bytes are read, the name and the
/// verified signer once the file is accepted), so that a refusal is recorded with what was
/// known when it came. The file's SHA-256 is computed once, when the record is written: of the
/// accepted patch (<see cref="PatchDefinition.Sha256"/>, which the report shares) if there is
/// one, else of the bytes read.
/// </summary>
internal sealed class AuditedOperation(ServiceRequest request)
{
    private string? name = request.Name;
    private byte[]? file;
    private PatchDefinition? patch;
    private string? reported;
    private string? signer;

    /// <summary>Whether the operation goes to the audit trail: every one that may change the process.</summary>
    public static bool Covers(ServiceRequest request) => request.Command is "apply" or "revert" or "continue" or "unload";

    /// <summary>The file's bytes, read and not yet verified: its signer is the one it claims until the signature is checked.</summary>
    public void Saw(byte[] file)
    {
        this.file = file;
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
        this.patch = patch;
        signer = AuditRecord.Signed(patch.Signer);
    }

    public AuditRecord Ended(ServiceReply reply)
    {
        if (reply.Report is { } report)
        {
            name = report.PatchName;
            reported = report.Sha256;
        }

        return Record(reply.Report?.InFlight is null ? "ok" : "timed out: the transition stays in flight (graft status shows it)");
    }

    public AuditRecord Failed(GraftException failure) => Record(AuditRecord.Outcome(failure));

    /// <summary>What the report says, else the accepted patch's (the same bytes, hashed once for both), else the bytes read.</summary>
    private string? Sha256 => reported ?? patch?.Sha256 ?? (file is null ? null : PatchFile.Sha256Of(file));

    private AuditRecord Record(string result) => new(request.Command, request.Pid, name, request.Patch, Sha256, signer, result);
}
