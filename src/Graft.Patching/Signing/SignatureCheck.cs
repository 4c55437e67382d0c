using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Graft.Model.Signing;

namespace Graft.Patching.Signing;

/// <summary>
/// The kernel's module signature check, for a patch: a signature, when the file carries one, is
/// verified whatever the policy (a revoked, unknown, expired or not yet valid certificate, or
/// bytes that do not match it, refuse the patch); a file without one is refused only when the
/// policy requires signatures.
/// </summary>
public static class SignatureCheck
{
    /// <summary>Who signed the patch, or null for an unsigned one the policy accepts; a refusal is a <see cref="GraftException"/>.</summary>
    public static PatchSigner? Verify(string path, ReadOnlySpan<byte> content, AppendedSignature? signature, TrustConfiguration trust)
    {
        if (signature is null)
        {
            return trust.RequireSignatures
                ? throw Refused(path, $"it is not signed, and {trust.PolicyFile} requires signatures (graft sign signs a patch)")
                : null;
        }

        if (trust.Revoked.Contains(signature.Signer))
        {
            throw Refused(path, $"it is signed with certificate sha256 {signature.Signer}, which is revoked ({trust.RevokedFile})");
        }

        using var certificate = trust.FindKey(signature.Signer)
            ?? throw Refused(path, $"it is signed with an unknown key: certificate sha256 {signature.Signer} is not among the trusted certificates in {trust.KeysDirectory}");
        var signer = new PatchSigner(certificate.Subject, signature.Signer);
        var now = DateTime.UtcNow;
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            throw Refused(path, $"it is signed with certificate {signer}, which is not valid before {Utc(certificate.NotBefore)}");
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            throw Refused(path, $"it is signed with certificate {signer}, which expired on {Utc(certificate.NotAfter)}");
        }

        using var key = certificate.GetECDsaPublicKey();
        if (key is null || key.KeySize != 256)
        {
            throw Refused(path, $"it is signed with certificate {signer}, whose key is not ECDSA P-256");
        }

        return Matches(key, content, signature.Value)
            ? signer
            : throw Refused(path, "signature does not match its contents (tampered?)");
    }

    private static bool Matches(ECDsa key, ReadOnlySpan<byte> content, byte[] signature)
    {
        try
        {
            return key.VerifyData(content, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            // A signature whose DER cannot be read is a signature that does not match.
            return false;
        }
    }

    private static string Utc(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static GraftException Refused(string path, string why) => new(GraftFailure.Refused, $"patch {path}: {why}");
}
