using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Graft.IntegrationTests.Support;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's fix for CVE-2026-81934, applied to a running redis that serves TLS: the old tlsProcessPendingData walks
/// the list of connections whose data OpenSSL has decrypted but redis has not read with an iterator that has already
/// taken the next node, so a command run from one pending connection that closes the next one (CLIENT KILL) makes it
/// go on with a freed node and connection: redis crashes with SIGSEGV. The fix takes each connection off the list
/// before it runs its handler. Two TLS clients made pending together, each killing the other, trigger it.
/// </summary>
public sealed class DebianRedisTlsFixTests(ITestOutputHelper output) : IDisposable
{

    // redis reads a bulk argument of 32 KB or more (PROTO_MBULK_BIG_ARG) exactly to its end, so the command sent after
    // it in the same TLS record stays decrypted in OpenSSL, and its connection goes on the pending list.
    private const int BigArgument = 40_000;

    private const string Crashed = "crashed by signal: 11";

    private readonly DebianRedisFix fix = new(output, "tls");

    public void Dispose() => fix.Dispose();

    [Fact]
    public void TheFixForCve2026_81934BuiltFromDebiansDiffSurvivesAPendingTlsClientKillingTheNextLiveUnderLoadAndRevertBringsTheCrashBack()
    {
        var redis = fix.Redis;
        var patch = Path.Combine(fix.Work, "cve-2026-81934.so");

        fix.Build(DebianRedisFix.Diff("CVE-2026-81934"), redis.Binary, patch, "tlsProcessPendingData");
        using var certificate = Certificate();

        // The old code crashes (a separate server).
        using (var old = StartRedis(redis.Binary, out _, out var oldTlsPort))
        {
            KillEachOtherWhilePending(old, oldTlsPort, certificate);
            AssertCrashed(old);
        }

        using var server = StartRedis(redis.Binary, out var port, out var tlsPort);
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, $"DEBUG POPULATE {DebianRedisFix.Survivors} survivor"));
        fix.ApplyUnderLoad(server, port, patch, $"--tls --insecure -p {tlsPort}");

        // The new code: one client killed the other (":1", the number of clients killed) and lives on, the other was closed
        // before its answers were written (redis writes them after it handles the pending connections). Both SETs ran, so
        // the killed client had read its big argument, and had its CLIENT KILL decrypted and unread, pending, when the
        // other's killed it: the case the old code crashed on above.
        var answers = KillEachOtherWhilePending(server, tlsPort, certificate);
        Assert.Contains(["+OK", ":1"], answers);
        Assert.Contains([null, null], answers);
        Assert.Equal(["2"], DebianRedisFix.Cli(port, "EXISTS pending:first pending:second"));
        Assert.True(server.IsAlive);
        Assert.Equal(["PONG"], DebianRedisFix.Cli(port, "PING"));

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-81934");

        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        Assert.Equal(["value:4242"], DebianRedisFix.Cli(port, "GET survivor:4242"));
        KillEachOtherWhilePending(server, tlsPort, certificate);
        AssertCrashed(server);
    }

    /// <summary>
    /// Two TLS clients that each send a big SET and, in the same write, CLIENT KILL of the other, while the server sleeps
    /// (DEBUG SLEEP, from a third), so that it reads both the same way, one TLS record per loop, and both end up on the
    /// pending list in the same loop. Returns each client's two answers (null: the connection was closed).
    /// </summary>
    private static List<string?[]> KillEachOtherWhilePending(RunningFixture server, int tlsPort, X509Certificate2 certificate)
    {
        using var first = Connect(tlsPort, certificate);
        using var second = Connect(tlsPort, certificate);
        using var sleeper = Connect(tlsPort, certificate);
        var firstId = Call(first, "CLIENT", "ID");
        var secondId = Call(second, "CLIENT", "ID");
        Write(sleeper, "DEBUG", "SLEEP", "1");
        WaitUntilSleeping(server);

        var big = new string('x', BigArgument);
        Write(first, [["SET", "pending:first", big], ["CLIENT", "KILL", "ID", secondId[1..]]]);
        Write(second, [["SET", "pending:second", big], ["CLIENT", "KILL", "ID", firstId[1..]]]);
        return [[ReadLine(first), ReadLine(first)], [ReadLine(second), ReadLine(second)]];
    }

    /// <summary>Waits until the server's main thread sleeps in DEBUG SLEEP: its system call is clock_nanosleep (230),
    /// which glibc's nanosleep makes, where it otherwise waits in epoll_wait.</summary>
    private static void WaitUntilSleeping(RunningFixture server)
    {
        var deadline = Stopwatch.StartNew();
        while (File.ReadAllText($"/proc/{server.Pid}/task/{server.Pid}/syscall").Split(' ')[0] != "230")
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the server did not sleep");
            Thread.Sleep(10);
        }
    }

    /// <summary>redis' crash report says SIGSEGV, and the process is gone.</summary>
    private static void AssertCrashed(RunningFixture server)
    {
        var deadline = Stopwatch.StartNew();
        while (server.IsAlive)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the server did not crash");
            Thread.Sleep(50);
        }

        Assert.Contains(server.Lines(), l => l.Contains(Crashed, StringComparison.Ordinal));
    }

    private static SslStream Connect(int tlsPort, X509Certificate2 certificate)
    {
        var tcp = new TcpClient();
        tcp.Connect(IPAddress.Loopback, tlsPort);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false,
            (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.Thumbprint)
        {
            ReadTimeout = 10_000,
        };
        tls.AuthenticateAsClient("127.0.0.1");
        return tls;
    }

    private static string Call(SslStream connection, params string[] command)
    {
        Write(connection, command);
        return ReadLine(connection) ?? throw new IOException($"no answer to {command[0]}");
    }

    private static void Write(SslStream connection, params string[] command) => Write(connection, [command]);

    /// <summary>Commands in RESP, in one write: SslStream cuts it into TLS records of up to 16 KB.</summary>
    private static void Write(SslStream connection, string[][] commands)
    {
        var text = new StringBuilder();
        foreach (var command in commands)
        {
            text.Append($"*{command.Length}\r\n");
            foreach (var argument in command)
            {
                text.Append($"${argument.Length}\r\n{argument}\r\n");
            }
        }

        connection.Write(Encoding.ASCII.GetBytes(text.ToString()));
        connection.Flush();
    }

    /// <summary>One line of the answer, without its CRLF; null once the connection is closed (or silent for 10 s).</summary>
    private static string? ReadLine(SslStream connection)
    {
        var line = new List<byte>();
        try
        {
            for (var b = connection.ReadByte(); b != -1; b = connection.ReadByte())
            {
                if (b == '\n')
                {
                    return Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
                }

                line.Add((byte)b);
            }
        }
        catch (IOException)
        {
            // Reset by the peer, or the read timed out.
        }

        return null;
    }

    /// <summary>A self-signed certificate for 127.0.0.1, its PEM files in the fix.Work folder for redis.</summary>
    private X509Certificate2 Certificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(fix.Work, "redis.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(fix.Work, "redis.key"), key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    /// <summary>redis serving plain TCP on <paramref name="port"/> (for redis-cli) and TLS on <paramref name="tlsPort"/>, with
    /// the certificate of <see cref="Certificate"/>.</summary>
    private RunningFixture StartRedis(string binary, out int port, out int tlsPort)
    {
        port = Ports.Free();
        tlsPort = Ports.Free();
        var crt = Path.Combine(fix.Work, "redis.crt");
        return fix.Start(binary, port, "--tls-port", tlsPort.ToString(), "--tls-cert-file", crt, "--tls-key-file", Path.Combine(fix.Work, "redis.key"),
            "--tls-ca-cert-file", crt, "--tls-auth-clients", "no");
    }
}
