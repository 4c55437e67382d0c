using System.Buffers.Binary;
using System.Text;
using Graft.Model.Patches;

namespace Graft.Model.Signing;

/// <summary>
/// A signature appended to a patch file, as the kernel appends one to a module: the file's bytes,
/// then the signer's fingerprint and the signature, then a fixed trailer with their lengths, then
/// <see cref="Magic"/>. The dynamic linker ignores bytes past what the ELF headers describe, so a
/// signed patch loads as it did unsigned.
/// </summary>
/// <remarks>
/// The trailer (the kernel's struct module_signature, 12 bytes): version (1), algorithm (1: ECDSA
/// P-256 with SHA-256), identity type (1: SHA-256 of the signer's DER certificate), the identity's
/// length, 4 bytes of padding (zero), the signature's length as a big-endian 32-bit number.
/// </remarks>
public static class SignatureBlock
{
    public const string Magic = "~Graft signature appended~\n";
    public const int TrailerSize = 12;

    private const byte Version = 1;
    private const byte EcdsaP256Sha256 = 1;
    private const byte CertificateSha256 = 1;
    private const int FingerprintSize = 32;

    // A DER ECDSA P-256 signature is at most 72 bytes; anything far larger is not one.
    private const int MaxSignatureSize = 1024;

    private static readonly byte[] MagicBytes = Encoding.ASCII.GetBytes(Magic);

    /// <summary>
    /// The bytes the signature covers and the signature, or the whole file and null when it carries none.
    /// A block that ends in <see cref="Magic"/> but does not fit is refused (<see cref="PatchFormatException"/>).
    /// </summary>
    public static (ReadOnlyMemory<byte> Content, AppendedSignature? Signature) Split(byte[] file, string path)
    {
        if (!file.AsSpan().EndsWith(MagicBytes))
        {
            return (file, null);
        }

        var trailerStart = file.Length - MagicBytes.Length - TrailerSize;
        if (trailerStart < 0)
        {
            throw Malformed(path, "shorter than its trailer");
        }

        var trailer = file.AsSpan(trailerStart, TrailerSize);
        if (trailer[0] != Version || trailer[1] != EcdsaP256Sha256 || trailer[2] != CertificateSha256)
        {
            throw Malformed(path, $"version {trailer[0]}, algorithm {trailer[1]}, identity type {trailer[2]}; this graft reads version 1 of ECDSA P-256 with SHA-256 by certificate fingerprint");
        }

        var signerLength = trailer[3];
        var signatureLength = BinaryPrimitives.ReadUInt32BigEndian(trailer[8..]);
        if (signerLength != FingerprintSize || trailer[4..8].ContainsAnyExcept((byte)0) || signatureLength is 0 or > MaxSignatureSize
            || signerLength + signatureLength > trailerStart)
        {
            throw Malformed(path, $"a signer of {signerLength} bytes and a signature of {signatureLength} bytes do not fit");
        }

        var signatureStart = trailerStart - (int)signatureLength;
        var signerStart = signatureStart - signerLength;
        return (file.AsMemory(0, signerStart),
            new AppendedSignature(file[signerStart..signatureStart], file[signatureStart..trailerStart]));
    }

    /// <summary>The file <paramref name="content"/> signed: its bytes, the block, the trailer and the magic.</summary>
    public static byte[] Append(ReadOnlySpan<byte> content, AppendedSignature signature)
    {
        if (signature.SignerFingerprint.Length != FingerprintSize || signature.Value.Length is 0 or > MaxSignatureSize)
        {
            throw new ArgumentException("a signer fingerprint of 32 bytes and a DER signature of at most 1024 bytes", nameof(signature));
        }

        var trailer = new byte[TrailerSize];
        trailer[0] = Version;
        trailer[1] = EcdsaP256Sha256;
        trailer[2] = CertificateSha256;
        trailer[3] = FingerprintSize;
        BinaryPrimitives.WriteUInt32BigEndian(trailer.AsSpan(8), (uint)signature.Value.Length);
        return [.. content, .. signature.SignerFingerprint, .. signature.Value, .. trailer, .. MagicBytes];
    }

    private static PatchFormatException Malformed(string path, string why) =>
        new($"{path}: its signature block is malformed ({why})");
}
