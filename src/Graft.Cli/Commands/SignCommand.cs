using System.CommandLine;
using Graft.Patching.Signing;

namespace Graft.Cli.Commands;

/// <summary>graft sign --key KEY.pem --cert CERT.pem fix.so: appends (or replaces) the patch's signature.</summary>
internal static class SignCommand
{
    public static Command Create()
    {
        var patch = new Argument<string>("patch") { Description = "patch file (.so) to sign in place" };
        var key = new Option<string>("--key") { Description = "ECDSA P-256 private key (PEM, unencrypted)", Required = true };
        var certificate = new Option<string>("--cert") { Description = "the key's X.509 certificate (PEM), as the verifying hosts hold it in /etc/graft/keys", Required = true };
        var command = new Command("sign", "sign a patch: append a signature that graft apply verifies against the trusted certificates") { patch, key, certificate };
        command.SetAction(result => CommonOptions.Run(() =>
        {
            var path = result.GetValue(patch)!;
            var signer = PatchSigning.Sign(path, result.GetValue(key)!, result.GetValue(certificate)!);
            Console.Error.WriteLine($"graft: signed {path} with certificate {signer}");
            return 0;
        }));
        return command;
    }
}
