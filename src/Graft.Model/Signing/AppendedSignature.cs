namespace Graft.Model.Signing;

/// <summary>
/// The signature a patch file carries at its end (<see cref="SignatureBlock"/>): who signed it, as the
/// SHA-256 fingerprint of the signer's X.509 certificate, and the ECDSA P-256 signature (DER) of
/// the bytes before the block.
/// </summary>
public sealed record AppendedSignature(byte[] SignerFingerprint, byte[] Value)
{
    /// <summary>The fingerprint as graft prints it and the revoked list holds it: lowercase hex, no separators.</summary>
    public string Signer => Convert.ToHexStringLower(SignerFingerprint);
}
