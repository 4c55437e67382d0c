using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Trust;

/// <summary>
/// A private /etc/graft for one test (GRAFT_CONFIG_DIR): its policy, trusted certificates and
/// revoked list, signing keys made for the test, and graft run with it, never through a graftd
/// (a socket that does not exist), so this process's configuration is the one that decides.
/// </summary>
internal sealed class TrustDirectory : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("graft-trust-").FullName;

    public TrustDirectory()
    {
        Directory.CreateDirectory(Keys);
    }

    public string Config => Path.Combine(root, "etc");

    public string Keys => Path.Combine(Config, "keys");

    /// <summary>Where the test's own files go (keys to sign with, copies of patches): outside the configuration.</summary>
    public string Work => root;

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["GRAFT_CONFIG_DIR"] = Config,
        ["GRAFTD_SOCKET"] = Path.Combine(root, "no-graftd.sock"),
    };

    public void RequireSignatures(bool required) =>
        File.WriteAllText(Path.Combine(Config, "policy"), $"# written by the test\nrequire-signatures {(required ? "yes" : "no")}\n");

    public void Revoke(string fingerprint) => File.WriteAllText(Path.Combine(Config, "revoked"), $"# revoked by the test\n{fingerprint}\n");

    /// <summary>A key pair made as an operator makes one with openssl: the key, its self-signed certificate, valid for a year.</summary>
    public SigningKey NewKeyWithOpenssl(string name)
    {
        var key = Path.Combine(Work, $"{name}.key");
        var certificate = Path.Combine(Work, $"{name}.pem");
        Run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key);
        Run("openssl", "req", "-new", "-x509", "-key", key, "-out", certificate, "-days", "365", "-subj", $"/CN={name}/O=Graft tests");
        // As .NET prints a subject: the last RDN first.
        return new SigningKey(key, certificate, $"O=Graft tests, CN={name}");
    }

    /// <summary>A key pair whose certificate is valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.</summary>
    public SigningKey NewKey(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", ecdsa, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        var key = Path.Combine(Work, $"{name}.key");
        var pem = Path.Combine(Work, $"{name}.pem");
        File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(pem, certificate.ExportCertificatePem());
        return new SigningKey(key, pem, $"CN={name}");
    }

    /// <summary>Puts the key's certificate among the trusted ones.</summary>
    public void Trust(SigningKey key) => File.Copy(key.Certificate, Path.Combine(Keys, Path.GetFileName(key.Certificate)));

    /// <summary>A copy of a fixture patch in the test's directory, to sign or damage.</summary>
    public string CopyOf(string patch)
    {
        var copy = Path.Combine(Work, $"{patch}.so");
        File.Copy(Repository.Patch(patch), copy, overwrite: true);
        return copy;
    }

    public Shell.Result Graft(params string[] arguments) => Shell.Run(Environment, Published.Graft, arguments);

    public void Sign(string patch, SigningKey key)
    {
        var result = Graft("sign", "--key", key.Key, "--cert", key.Certificate, patch);
        Assert.True(result.ExitCode == 0, $"graft sign failed: {result.Stderr}");
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static void Run(string program, params string[] arguments)
    {
        var result = Shell.Run(program, arguments);
        Assert.True(result.ExitCode == 0, $"{program} failed: {result.Stderr}");
    }
}

/// <summary>A private key and its certificate (PEM files), and the certificate's subject as .NET prints it.</summary>
internal sealed record SigningKey(string Key, string Certificate, string Subject)
{
    /// <summary>The certificate's SHA-256 fingerprint, as openssl prints it (AB:CD:...).</summary>
    public string OpensslFingerprint
    {
        get
        {
            var result = Shell.Run("openssl", "x509", "-in", Certificate, "-noout", "-fingerprint", "-sha256");
            return result.Stdout.Trim().Split('=')[1];
        }
    }

    /// <summary>The fingerprint as graft prints it: lowercase hex.</summary>
    public string Fingerprint => OpensslFingerprint.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
}
