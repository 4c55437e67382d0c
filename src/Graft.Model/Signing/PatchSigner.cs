namespace Graft.Model.Signing;

/// <summary>The trusted certificate a patch's signature was verified with: its subject and SHA-256 fingerprint (lowercase hex).</summary>
public sealed record PatchSigner(string Subject, string Fingerprint)
{
    public override string ToString() => $"{Subject} (sha256 {Fingerprint})";
}
