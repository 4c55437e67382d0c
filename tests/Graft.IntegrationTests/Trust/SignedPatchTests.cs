using System.Security.Cryptography;
using System.Text.Json;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Trust;

/// <summary>
/// Signed patches on a real process: a patch signed with a trusted key applies; under a policy that
/// requires signatures an unsigned one is refused, and any signature present must verify (bytes,
/// key, validity, revocation) whatever the policy. A refusal is one line, exit code 2, and leaves
/// the target as it was, running the old code.
/// </summary>
public sealed class SignedPatchTests : IDisposable
{
    private const string Patch = "describe_new";
    private readonly TrustDirectory trust = new();

    [Fact]
    public void SignedPatchAppliesUnderAPolicyThatRequiresSignaturesAndTheTargetRunsTheNewCode()
    {
        trust.RequireSignatures(true);
        var key = trust.NewKeyWithOpenssl("release");
        trust.Trust(key);
        var patch = trust.CopyOf(Patch);
        trust.Sign(patch, key);
        using var counter = RunningFixture.Start("counter");

        var result = trust.Graft("apply", counter.Pid.ToString(), patch, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var report = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(key.Subject, report.GetProperty("signer").GetProperty("subject").GetString());
        Assert.Equal(key.Fingerprint, report.GetProperty("signer").GetProperty("fingerprint").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(patch))), report.GetProperty("sha256").GetString());
        Ticks.Next(counter, 2, "new");
    }

    [Fact]
    public void SignedPatchIsStillAPatchAndSigningAgainReplacesTheSignature()
    {
        var first = trust.NewKeyWithOpenssl("first");
        var second = trust.NewKeyWithOpenssl("second");
        var patch = trust.CopyOf(Patch);
        var unsigned = File.ReadAllBytes(patch);

        trust.Sign(patch, first);
        var once = File.ReadAllBytes(patch);
        trust.Sign(patch, second);
        var twice = File.ReadAllBytes(patch);

        Assert.Equal(unsigned, once[..unsigned.Length]);
        Assert.Equal(unsigned, twice[..unsigned.Length]);
        Assert.Equal(Convert.FromHexString(second.Fingerprint), twice[unsigned.Length..(unsigned.Length + 32)]);
        Assert.DoesNotContain(Convert.ToHexString(Convert.FromHexString(first.Fingerprint)), Convert.ToHexString(twice));
        // graft info verifies the signature too.
        trust.Trust(second);
        var info = trust.Graft("info", patch);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.StartsWith("patch\tdescribe-new\t", info.Stdout);
    }

    [Fact]
    public void UnsignedPatchAppliesWhenThePolicyDoesNotRequireSignatures()
    {
        trust.RequireSignatures(false);
        using var counter = RunningFixture.Start("counter");

        var result = trust.Graft("apply", counter.Pid.ToString(), trust.CopyOf(Patch), "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(result.Stdout).RootElement.GetProperty("signer").ValueKind);
        Ticks.Next(counter, 2, "new");
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "unsigned", "it is not signed, and " },
        { "tampered code", "signature does not match its contents (tampered?)" },
        { "tampered signature", "signature does not match its contents (tampered?)" },
        { "unknown key", "it is signed with an unknown key: certificate sha256 " },
        { "expired", "which expired on " },
        { "not yet valid", "which is not valid before " },
        { "revoked", "which is revoked (" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusedPatchIsOneLineAndLeavesTheTargetAsItWas(string kind, string reason)
    {
        // Only the unsigned case needs the policy: a signature present is verified whatever it says.
        trust.RequireSignatures(kind == "unsigned");
        var patch = Make(kind);
        using var counter = RunningFixture.Start("counter");
        var before = TargetText.Read(counter.Pid);

        var result = trust.Graft("apply", counter.Pid.ToString(), patch);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"graft: error: patch {patch}: ", line);
        Assert.Contains(reason, line);
        before.AssertUnchanged(counter.Pid);
        Ticks.Next(counter, 2, "old");
    }

    public void Dispose() => trust.Dispose();

    /// <summary>The patch as the case has it, with the configuration the case needs.</summary>
    private string Make(string kind)
    {
        var patch = trust.CopyOf(Patch);
        if (kind == "unsigned")
        {
            return patch;
        }

        var now = DateTimeOffset.UtcNow;
        var key = kind switch
        {
            "expired" => trust.NewKey("expired", now.AddDays(-30), now.AddDays(-1)),
            "not yet valid" => trust.NewKey("future", now.AddDays(1), now.AddDays(30)),
            _ => trust.NewKeyWithOpenssl("release"),
        };
        if (kind != "unknown key")
        {
            trust.Trust(key);
        }

        var size = new FileInfo(patch).Length;
        trust.Sign(patch, key);
        var bytes = File.ReadAllBytes(patch);
        switch (kind)
        {
            case "tampered code":
                bytes[size / 2] ^= 0x01;
                break;
            case "tampered signature":
                // The last byte of the DER signature: an integer of it, changed.
                bytes[^(27 + 12 + 1)] ^= 0x01;
                break;
            case "revoked":
                trust.Revoke(key.OpensslFingerprint);
                break;
        }

        File.WriteAllBytes(patch, bytes);
        return patch;
    }
}
