using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Graft.Model.Patches;
using Graft.Model.Signing;

namespace Graft.Patching.Signing;

/// <summary>
/// graft sign: appends a signature to a patch file (<see cref="SignatureBlock"/>), as sign-file
/// does to a kernel module; a signature the file already carries is replaced. The key is an
/// ECDSA P-256 private key in PEM (SEC 1 or PKCS#8, unencrypted) and the certificate its X.509
/// certificate, which the hosts that verify the patch hold in their keys directory.
/// </summary>
[SupportedOSPlatform("linux")]
public static class PatchSigning
{
    public static PatchSigner Sign(string patchPath, string keyPath, string certificatePath)
    {
        var (content, _) = SignatureBlock.Split(ReadInput(patchPath, "patch"), patchPath);
        try
        {
            // Only a patch graft would load is worth a signature.
            PatchFile.Parse(patchPath, content.ToArray());
        }
        catch (PatchFormatException e)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }

        using var certificate = LoadCertificate(certificatePath);
        using var key = LoadKey(keyPath, certificate, certificatePath);
        var signature = new AppendedSignature(certificate.GetCertHash(HashAlgorithmName.SHA256),
            key.SignData(content.Span, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        AtomicFile.Write(patchPath, SignatureBlock.Append(content.Span, signature), File.GetUnixFileMode(patchPath));
        return new PatchSigner(certificate.Subject, signature.Signer);
    }

    private static X509Certificate2 LoadCertificate(string path)
    {
        try
        {
            return X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(ReadInput(path, "certificate")));
        }
        catch (CryptographicException e)
        {
            throw new GraftException(GraftFailure.Refused, $"{path} is not a PEM certificate: {e.Message}", e);
        }
    }

    /// <summary>The private key, which must be the one whose public half the certificate carries.</summary>
    private static ECDsa LoadKey(string path, X509Certificate2 certificate, string certificatePath)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(System.Text.Encoding.ASCII.GetString(ReadInput(path, "key")));
            if (key.KeySize != 256)
            {
                throw new GraftException(GraftFailure.Refused, $"{path} is a {key.KeySize}-bit EC key; graft signs with ECDSA P-256");
            }

            using var certified = certificate.GetECDsaPublicKey();
            if (certified is null || !certified.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
            {
                throw new GraftException(GraftFailure.Refused, $"{path} is not the private key of the certificate {certificatePath}");
            }

            return key;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new GraftException(GraftFailure.Refused, $"{path} is not an unencrypted PEM EC private key: {e.Message}", e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static byte[] ReadInput(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot read the {what} {path}: {e.Message}", e);
        }
    }
}
