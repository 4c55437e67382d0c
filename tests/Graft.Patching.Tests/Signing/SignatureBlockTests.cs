using System.Text;
using Graft.Model.Patches;
using Graft.Model.Signing;

namespace Graft.Patching.Tests.Signing;

/// <summary>The signature block appended to a patch file: what Append writes, Split reads back, and what Split refuses.</summary>
public sealed class SignatureBlockTests
{
    private static readonly byte[] Content = Encoding.ASCII.GetBytes("\x7f" + "ELF and the rest of a patch");
    private static readonly AppendedSignature Signature = new([.. Enumerable.Range(1, 32).Select(i => (byte)i)], [0x30, 0x44, 0x02, 0x20, 0xaa, 0xbb]);

    [Fact]
    public void AppendedBlockIsContentThenSignerThenSignatureThenTrailerThenMagic()
    {
        var file = SignatureBlock.Append(Content, Signature);

        Assert.Equal(Content, file[..Content.Length]);
        Assert.Equal(Signature.SignerFingerprint, file[Content.Length..(Content.Length + 32)]);
        Assert.Equal(Signature.Value, file[(Content.Length + 32)..(Content.Length + 38)]);
        var trailer = file[(Content.Length + 38)..^SignatureBlock.Magic.Length];
        Assert.Equal(new byte[] { 1, 1, 1, 32, 0, 0, 0, 0, 0, 0, 0, 6 }, trailer);
        Assert.EndsWith("~Graft signature appended~\n", Encoding.ASCII.GetString(file), StringComparison.Ordinal);
    }

    [Fact]
    public void SplitReadsBackWhatAppendWrote()
    {
        var (content, signature) = SignatureBlock.Split(SignatureBlock.Append(Content, Signature), "fix.so");

        Assert.Equal(Content, content.ToArray());
        Assert.NotNull(signature);
        Assert.Equal(Signature.SignerFingerprint, signature.SignerFingerprint);
        Assert.Equal(Signature.Value, signature.Value);
        Assert.Equal("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", signature.Signer);
    }

    [Fact]
    public void FileWithoutTheMagicIsUnsignedAndWhole()
    {
        var (content, signature) = SignatureBlock.Split(Content, "fix.so");

        Assert.Null(signature);
        Assert.Equal(Content, content.ToArray());
    }

    [Fact]
    public void SigningASignedFileAgainReplacesItsSignature()
    {
        var signed = SignatureBlock.Append(Content, Signature);
        var other = new AppendedSignature([.. Enumerable.Repeat((byte)7, 32)], [0x30, 0x45, 0x01]);

        var (content, _) = SignatureBlock.Split(signed, "fix.so");
        var resigned = SignatureBlock.Append(content.Span, other);

        Assert.Equal(SignatureBlock.Append(Content, other), resigned);
        Assert.Equal(other.Value, SignatureBlock.Split(resigned, "fix.so").Signature!.Value);
    }

    /// <summary>A byte of the trailer and a value it may not have: version, algorithm, identity type, signer length, padding, signature length.</summary>
    public static TheoryData<int, byte> DamagedTrailers => new()
    {
        { 0, 2 },
        { 1, 9 },
        { 2, 0 },
        { 3, 31 },
        { 5, 1 },
        { 11, 0 },
    };

    [Theory]
    [MemberData(nameof(DamagedTrailers))]
    public void TrailerThatDoesNotFitIsRefused(int offset, byte value)
    {
        var file = SignatureBlock.Append(Content, Signature);
        file[file.Length - SignatureBlock.Magic.Length - SignatureBlock.TrailerSize + offset] = value;

        var refusal = Assert.Throws<PatchFormatException>(() => SignatureBlock.Split(file, "fix.so"));

        Assert.StartsWith("fix.so: its signature block is malformed", refusal.Message);
    }

    [Fact]
    public void SignatureLongerThanTheFileIsRefused()
    {
        var file = SignatureBlock.Append(Content, Signature);
        file[^(SignatureBlock.Magic.Length + 2)] = 0x03;

        Assert.Throws<PatchFormatException>(() => SignatureBlock.Split(file, "fix.so"));
    }

    [Fact]
    public void MagicAloneIsRefused()
    {
        Assert.Throws<PatchFormatException>(() => SignatureBlock.Split(Encoding.ASCII.GetBytes(SignatureBlock.Magic), "fix.so"));
    }
}
