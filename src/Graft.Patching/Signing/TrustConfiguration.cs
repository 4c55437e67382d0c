using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Graft.Linux.Trust;

namespace Graft.Patching.Signing;

/// <summary>
/// Whom graft trusts to sign patches, as the kernel's keyring and blacklist: the certificates in
/// <c>keys/</c> (PEM, *.pem or *.crt), the SHA-256 fingerprints in <c>revoked</c> (one per line),
/// and <c>policy</c> (<c>require-signatures yes</c>). Every file is read as a patch is
/// (<see cref="CheckedFile"/>): owned by root, writable by no other user, through directories no
/// other user can change. A missing file is an empty one; a file
/// graft cannot trust or read refuses every patch, so a broken policy never lets one through.
/// </summary>
public sealed class TrustConfiguration
{
    public const string DefaultDirectory = "/etc/graft";

    /// <summary>
    /// Names another directory, for tests. It is read by the process that runs the operation: a
    /// graft command's environment does not reach graftd, which keeps its own.
    /// </summary>
    public const string DirectoryVariable = "GRAFT_CONFIG_DIR";

    private const long MaxFileBytes = 1 << 20;
    private const string RequireSignaturesKey = "require-signatures";

    private TrustConfiguration(string directory, bool requireSignatures, IReadOnlySet<string> revoked)
    {
        Directory = directory;
        RequireSignatures = requireSignatures;
        Revoked = revoked;
    }

    public string Directory { get; }

    public bool RequireSignatures { get; }

    /// <summary>Fingerprints of revoked certificates, lowercase hex without separators.</summary>
    public IReadOnlySet<string> Revoked { get; }

    public string PolicyFile => Path.Combine(Directory, "policy");

    public string KeysDirectory => Path.Combine(Directory, "keys");

    public string RevokedFile => Path.Combine(Directory, "revoked");

    /// <summary>The configuration of this process: <see cref="DirectoryVariable"/>, else <see cref="DefaultDirectory"/>.</summary>
    public static TrustConfiguration Load()
    {
        var directory = Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } named ? named : DefaultDirectory;
        var policy = Path.Combine(directory, "policy");
        var revoked = Path.Combine(directory, "revoked");
        return new TrustConfiguration(directory, ReadPolicy(policy), Lines(revoked).Select(l => Fingerprint(l.Text)).ToHashSet());
    }

    /// <summary>The trusted certificate with this SHA-256 fingerprint (lowercase hex), or null.</summary>
    public X509Certificate2? FindKey(string fingerprint)
    {
        if (!System.IO.Directory.Exists(KeysDirectory))
        {
            return null;
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(KeysDirectory).Where(f => f.EndsWith(".pem", StringComparison.Ordinal) || f.EndsWith(".crt", StringComparison.Ordinal)).Order())
        {
            var certificates = new X509Certificate2Collection();
            try
            {
                certificates.ImportFromPem(Encoding.ASCII.GetString(Read(file)));
            }
            catch (CryptographicException e)
            {
                throw Unusable(file, $"not a PEM certificate ({e.Message})");
            }

            if (certificates.FirstOrDefault(c => Convert.ToHexStringLower(c.GetCertHash(HashAlgorithmName.SHA256)) == fingerprint) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    private static bool ReadPolicy(string path)
    {
        var require = false;
        foreach (var (number, text) in Lines(path))
        {
            var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            require = words switch
            {
                [RequireSignaturesKey, "yes"] => true,
                [RequireSignaturesKey, "no"] => false,
                _ => throw Unusable(path, $"line {number} is not 'require-signatures yes' or 'require-signatures no'"),
            };
        }

        return require;
    }

    /// <summary>The lines of a trust file that say something (not blank, not a # comment), numbered from 1; none when it does not exist.</summary>
    private static IEnumerable<(int Number, string Text)> Lines(string path) => File.Exists(path)
        ? Encoding.UTF8.GetString(Read(path)).Split('\n').Select((line, index) => (index + 1, line.Trim()))
            .Where(l => l.Item2.Length > 0 && !l.Item2.StartsWith('#'))
        : [];

    /// <summary>A fingerprint as openssl prints it (AB:CD:...) or as graft does (abcd...).</summary>
    private static string Fingerprint(string text) => text.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();

    private static byte[] Read(string path)
    {
        try
        {
            return CheckedFile.Read(path, MaxFileBytes).Bytes;
        }
        catch (UntrustedFileException e)
        {
            throw Unusable(path, e.Message);
        }
    }

    private static GraftException Unusable(string path, string why) =>
        new(GraftFailure.Refused, $"trust configuration {path} cannot be used, so no patch is accepted: {why}");
}
