using Graft.IntegrationTests.Support;
using Graft.IntegrationTests.Trust;
using Graft.Patching;
using Graft.Patching.Operations;
using Graft.Patching.Signing;

namespace Graft.IntegrationTests.Libraries;

/// <summary>
/// A library that comes under a signed patch gets the image the process loaded when the patch
/// was applied, whose signature was verified then: graftd verifies nothing again while the
/// loading thread waits in the dynamic linker, as the kernel checks a module's signature once,
/// at load. A key revoked since refuses the next apply, not the library's share of this one.
/// </summary>
public sealed class LibraryTrustTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TrustDirectory trust = new();
    private readonly string? configuration = Environment.GetEnvironmentVariable(TrustConfiguration.DirectoryVariable);

    public LibraryTrustTests()
    {
        // The watch runs inside the test host (WatchedFixture) and reads this process's configuration,
        // as graftd reads its own; the integration tests run one at a time.
        Environment.SetEnvironmentVariable(TrustConfiguration.DirectoryVariable, trust.Config);
    }

    [Fact]
    public void ALibraryLoadedAfterThePatchsKeyWasRevokedGetsThePatchVerifiedAtApply()
    {
        var key = trust.NewKey("release", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        trust.Trust(key);
        trust.RequireSignatures(true);
        var patch = trust.CopyOf("callbacks_demo");
        trust.Sign(patch, key);
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = new WatchedFixture(host.Pid, log);

        var report = graftd.Apply(patch, Timeout);
        Assert.Equal(key.Fingerprint, report.Signer?.Fingerprint);
        trust.Revoke(key.Fingerprint);
        log.Take();

        host.Send("load libcbmod.so", "loaded");

        Assert.Equal(
            [
                "graft: applying patch 'callbacks-demo' to loading module 'libcbmod.so'",
                "callbacks-demo: pre_patch_callback: libcbmod.so",
                "callbacks-demo: post_patch_callback: libcbmod.so",
                "libcbmod: cbmod_init",
            ],
            log.Take());
        var refusal = Assert.Throws<GraftException>(() => Patcher.ReadPatch(patch));
        Assert.Contains("which is revoked", refusal.Message);
        graftd.Revert("callbacks-demo", Timeout);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(TrustConfiguration.DirectoryVariable, configuration);
        trust.Dispose();
    }
}
