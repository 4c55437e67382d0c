using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// redis as Debian ships it in a release of bookworm(-security): its source package (apt-get source, with Debian's
/// patches applied by dpkg-source), and redis-server built from it as debian/rules builds it, with Debian's flags
/// (dpkg-buildflags with the hardening and the additions debian/rules asks for). Both are made once per version and
/// kept under the tests' output folder, since a build takes minutes. Needs the deb-src lines and build dependencies
/// that scripts/install-deps.sh installs.
/// </summary>
internal sealed class DebianRedisSource
{
    private static readonly Dictionary<string, string> DebianRules = new()
    {
        ["DEB_BUILD_MAINT_OPTIONS"] = "hardening=+all",
        ["DEB_CFLAGS_MAINT_APPEND"] = "-I/usr/include/liblzf",
        ["DEB_LDFLAGS_MAINT_APPEND"] = "-Wl,-no-as-needed -ldl -latomic -llzf",
    };

    private DebianRedisSource(string version)
    {
        var cache = Path.Combine(AppContext.BaseDirectory, "debian-redis", version.Replace(':', '_'));
        Source = Path.Combine(cache, "source");
        Binary = Path.Combine(cache, "binary", "src", "redis-server");
        if (!File.Exists(Path.Combine(cache, "done")))
        {
            if (Directory.Exists(cache))
            {
                Directory.Delete(cache, recursive: true);
            }

            Directory.CreateDirectory(cache);
            Fetch(cache, version);
            Run(cache, "dpkg-source --no-check -x redis_*.dsc source");
        }

        // As Debian's buildd builds it. SOURCE_DATE_EPOCH as dpkg-buildpackage exports it, from the changelog:
        // src/mkreleasehdr.sh makes it the REDIS_BUILD_ID string, where it would otherwise put the host's name and the
        // time, and shift the strings after it away from where Debian's binary has them. And outside any git
        // repository (a source package has none; the tests' output folder lies in graft's): mkreleasehdr.sh would
        // write that repository's commit and its count of changed lines into the binary.
        BuildCommand = $"{OutsideGit} SOURCE_DATE_EPOCH={ChangelogTimestamp()} "
            + $"CFLAGS='{Flags("CFLAGS")}' CPPFLAGS='{Flags("CPPFLAGS")}' LDFLAGS='{Flags("LDFLAGS")}' BUILD_TLS=yes "
            + "nice -n 10 make -j2 V=1 USE_SYSTEM_JEMALLOC=yes USE_SYSTEMD=yes USE_JEMALLOC=yes";
        if (!File.Exists(Path.Combine(cache, "done")))
        {
            Run(cache, "cp -a source binary");
            Run(Path.Combine(cache, "binary"), $"CC=cc {BuildCommand}");
            File.WriteAllText(Path.Combine(cache, "done"), version);
        }
    }

    /// <summary>The environment that keeps git from finding a repository around the build tree.</summary>
    public const string OutsideGit = "GIT_DIR=/nonexistent";

    /// <summary>The source tree, as Debian's patches leave it, never built in.</summary>
    public string Source { get; }

    /// <summary>redis-server built from <see cref="Source"/> by <see cref="BuildCommand"/>.</summary>
    public string Binary { get; }

    /// <summary>How debian/rules builds redis (its make variables, dpkg-buildflags' flags), with the compiler from PATH.</summary>
    public string BuildCommand { get; }

    public static DebianRedisSource Get(string version) => new(version);

    /// <summary>A file of Debian's packaging of a release, fetched (once per version) without building it: debian/patches/CVE-... .</summary>
    public static string PackagingFile(string version, string path)
    {
        var cache = Path.Combine(AppContext.BaseDirectory, "debian-redis", version.Replace(':', '_') + "-packaging");
        var file = Path.Combine(cache, path);
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(cache);
            Fetch(cache, version);
            Run(cache, $"tar -xJf redis_*.debian.tar.xz {path}");
        }

        return file;
    }

    private string ChangelogTimestamp()
    {
        var result = Shell.Run("dpkg-parsechangelog", "-l", Path.Combine(Source, "debian", "changelog"), "-STimestamp");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Trim();
    }

    internal static void Fetch(string directory, string version) =>
        Run(directory, $"apt-get source --download-only redis={version} 2>&1 | grep -v 'unsandboxed as root' >&2; test -e redis_*.dsc",
            "(no deb-src lines? run scripts/install-deps.sh as root)");

    /// <summary>A flag variable as dpkg-buildflags gives it for debian/rules, less the -ffile-prefix-map of the directory it
    /// runs in: graft's compiler wrapper maps the build's copy onto the source instead.</summary>
    private static string Flags(string variable)
    {
        var result = Shell.Run(DebianRules, "dpkg-buildflags", "--get", variable);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return string.Join(' ', result.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(flag => !flag.StartsWith("-ffile-prefix-map=", StringComparison.Ordinal)));
    }

    internal static void Run(string directory, string command, string hint = "")
    {
        var result = Shell.Run("/bin/sh", "-c", $"cd '{directory}' && {command}");
        var tail = string.Join('\n', (result.Stdout + result.Stderr).TrimEnd().Split('\n').TakeLast(20));
        Assert.True(result.ExitCode == 0, $"'{command}' in {directory} failed {hint}:\n{tail}");
    }
}
