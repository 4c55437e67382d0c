using System.Security.Cryptography;
using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Patching.Audit;
using Graft.Patching.Service;
using Graft.Patching.Tests.Support;

namespace Graft.Patching.Tests.Signing;

/// <summary>
/// A patch's SHA-256 is computed when something asks for it, once: never by parsing (graftd parses a
/// patch again while a thread of the target waits in the dynamic linker), and once for an audited
/// operation's record and report.
/// </summary>
public sealed class PatchDigestTests(PatchLibrary library) : IClassFixture<PatchLibrary>
{
    [Fact]
    public void ParsingAPatchAndReadingWhatItReplacesHashesNothing()
    {
        var patch = PatchFile.Parse(library.FilePath, library.Bytes);

        // What graftd's coming handler reads of it (LibraryEvents.Apply, PatchResolver.ResolveFunction).
        var function = Assert.Single(Assert.Single(patch.Objects).Functions);
        Assert.Equal("answer", function.OldName);
        Assert.NotEqual(0UL, function.NewFunction);
        Assert.Null(patch.Objects[0].BuildId);
        Assert.Empty(patch.LocalSymbols);
        Assert.Null((patch with { Signer = null }).Signer);

        Assert.False(PatchFile.HasSha256(patch.Elf));
    }

    [Fact]
    public void Sha256IsTheWholeFilesAsSha256sumPrintsItComputedOnceForEveryCopy()
    {
        var signed = SignatureBlock.Append(library.Bytes, new AppendedSignature([.. Enumerable.Repeat((byte)1, 32)], [0x30, 0x44]));
        var patch = PatchFile.Parse(library.FilePath, signed);
        var copy = patch with { Signer = new PatchSigner("CN=test", new string('1', 64)) };

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(signed)), copy.Sha256);
        Assert.True(PatchFile.HasSha256(patch.Elf));
        Assert.Same(copy.Sha256, patch.Sha256);
    }

    [Fact]
    public void AnAuditedApplyRecordsTheSha256OfThePatchItAccepted()
    {
        var audited = new AuditedOperation(new ServiceRequest("apply", 42, Patch: library.FilePath));
        var patch = PatchFile.Parse(library.FilePath, library.Bytes);

        audited.Saw(library.Bytes);
        audited.Saw(patch);
        Assert.False(PatchFile.HasSha256(patch.Elf));
        var record = audited.Failed(new GraftException(GraftFailure.Refused, "no"));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(library.Bytes)), record.Sha256);
        Assert.True(PatchFile.HasSha256(patch.Elf));
        Assert.Equal(("fix-answer", "unsigned", "refused: no"), (record.Patch, record.Signer, record.Result));
    }

    [Fact]
    public void AnAuditedApplyRefusedBeforeParsingRecordsTheSha256OfTheBytesRead()
    {
        var audited = new AuditedOperation(new ServiceRequest("apply", 42, Patch: library.FilePath));

        audited.Saw(library.Bytes);
        var record = audited.Failed(new GraftException(GraftFailure.Refused, "not signed"));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(library.Bytes)), record.Sha256);
        Assert.Equal("unsigned", record.Signer);
    }
}
