using Graft.Elf;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// redis-server as Debian's own package of a release ships it (apt-get download): stripped, and
/// /usr/bin/redis-server a symlink to redis-check-rdb. Its symbols would come from Debian's -dbgsym package, but
/// Debian's debug archive is not reachable here; so Debian's build is reproduced instead (dpkg-buildpackage on the
/// same source package, as Debian's buildd ran it), its binary checked to be the shipped one byte for byte, and
/// the debug file of its redis-tools-dbgsym, which is then the one Debian's dbgsym holds, put where the shipped
/// binary's .gnu_debuglink leads: a .debug directory beside it. The host's /usr/lib/debug is left alone. Made
/// once per version under the tests' output folder.
/// </summary>
internal sealed class DebianRedisPackage
{
    private DebianRedisPackage(string version)
    {
        var cache = Path.Combine(AppContext.BaseDirectory, "debian-redis", version.Replace(':', '_') + "-package");
        var shipped = Path.Combine(cache, "shipped");
        Binary = Path.Combine(shipped, "usr", "bin", "redis-server");
        if (!File.Exists(Path.Combine(cache, "done")))
        {
            if (Directory.Exists(cache))
            {
                Directory.Delete(cache, recursive: true);
            }

            var rebuild = Path.Combine(cache, "rebuild");
            Directory.CreateDirectory(rebuild);
            DebianRedisSource.Run(cache, $"apt-get download redis-server={version} redis-tools={version} 2>&1 | grep -v 'unsandboxed as root' >&2; "
                + "dpkg-deb -x redis-server_*.deb shipped && dpkg-deb -x redis-tools_*.deb shipped");
            DebianRedisSource.Run(rebuild, $"cp -a '{DebianRedisSource.Get(version).Source}' redis && cd redis "
                + $"&& {DebianRedisSource.OutsideGit} DEB_BUILD_OPTIONS='nocheck parallel=2' nice -n 10 dpkg-buildpackage -b -uc -us >../build.log 2>&1",
                "(the build dependencies of Debian's redis: scripts/install-deps.sh)");
            DebianRedisSource.Run(rebuild, "dpkg-deb -x redis-tools_*.deb rebuilt && dpkg-deb -x redis-tools-dbgsym_*.deb rebuilt");

            var reproduced = Shell.Run("cmp", Path.Combine(shipped, "usr", "bin", "redis-check-rdb"), Path.Combine(rebuild, "rebuilt", "usr", "bin", "redis-check-rdb"));
            Assert.True(reproduced.ExitCode == 0, $"Debian's build of redis {version} did not reproduce the shipped binary: {reproduced.Stdout}{reproduced.Stderr}");
            var buildId = ElfFile.Load(Binary).BuildId!;
            var debug = Path.Combine(shipped, "usr", "bin", ".debug");
            Directory.CreateDirectory(debug);
            File.Copy(Path.Combine(rebuild, "rebuilt", "usr", "lib", "debug", ".build-id", buildId[..2], buildId[2..] + ".debug"),
                Path.Combine(debug, buildId[2..] + ".debug"));
            File.WriteAllText(Path.Combine(cache, "done"), version);
        }

        BuildId = ElfFile.Load(Binary).BuildId!;
    }

    /// <summary>/usr/bin/redis-server of the package, unpacked: a symlink to redis-check-rdb.</summary>
    public string Binary { get; }

    public string BuildId { get; }

    public static DebianRedisPackage Get(string version) => new(version);
}
