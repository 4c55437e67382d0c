using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
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
    private const string Running = "5:7.0.15-1~deb12u7";
    private const string Fixed = "5:7.0.15-1~deb12u10";
    private const int Survivors = 100_000;

    // redis reads a bulk argument of 32 KB or more (PROTO_MBULK_BIG_ARG) exactly to its end, so the command sent after
    // it in the same TLS record stays decrypted in OpenSSL, and its connection goes on the pending list.
    private const int BigArgument = 40_000;

    private const string Crashed = "crashed by signal: 11";

    private readonly string work = Directory.CreateTempSubdirectory("graft-debian-redis-tls-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void TheFixForCve2026_81934BuiltFromDebiansDiffSurvivesAPendingTlsClientKillingTheNextLiveUnderLoadAndRevertBringsTheCrashBack()
    {
        var redis = DebianRedisSource.Get(Running);
        var diff = DebianRedisSource.PackagingFile(Fixed, "debian/patches/CVE-2026-81934.patch");
        var patch = Path.Combine(work, "cve-2026-81934.so");

        var built = Shell.Graft("build", "--source", redis.Source, "--diff", diff, "--binary", redis.Binary, "-o", patch,
            "--build", redis.BuildCommand, "--json");

        Assert.True(built.ExitCode == 0, built.Stderr);
        var replaced = JsonDocument.Parse(built.Stdout).RootElement.GetProperty("functions").EnumerateArray()
            .Where(f => f.GetProperty("change").GetString() == "Changed").Select(f => f.GetProperty("name").GetString()).ToList();
        output.WriteLine($"replaced: {string.Join(", ", replaced)}");
        Assert.Contains("tlsProcessPendingData", replaced);
        using var certificate = Certificate();

        // The old code crashes (a separate server).
        using (var old = StartRedis(redis.Binary, out _, out var oldTlsPort))
        {
            KillEachOtherWhilePending(old, oldTlsPort, certificate);
            AssertCrashed(old);
        }

        using var server = StartRedis(redis.Binary, out var port, out var tlsPort);
        Assert.Equal(["OK"], Cli(port, $"DEBUG POPULATE {Survivors} survivor"));
        var load = Path.Combine(work, "benchmark.out");
        using var benchmark = Benchmark(tlsPort, load);
        WaitForTraffic(port, Survivors);

        var applied = Shell.Graft("apply", server.Pid.ToString(), patch, "--json");

        Assert.True(applied.ExitCode == 0, applied.Stderr);
        output.WriteLine($"longest stop: {JsonDocument.Parse(applied.Stdout).RootElement.GetProperty("longestStopMilliseconds")} ms");
        WaitForTraffic(port, long.Parse(Cli(port, "DBSIZE").Single()));
        benchmark.Kill();
        benchmark.WaitForExit();
        Assert.DoesNotContain("error", File.ReadAllText(load), StringComparison.OrdinalIgnoreCase);
        Assert.True(server.IsAlive);
        Assert.True(long.Parse(Cli(port, "DBSIZE").Single()) >= Survivors);
        Assert.Equal(["value:4242"], Cli(port, "GET survivor:4242"));

        // The new code: one client killed the other (":1", the number of clients killed) and lives on, the other was closed
        // before its answers were written (redis writes them after it handles the pending connections). Both SETs ran, so
        // the killed client had read its big argument, and had its CLIENT KILL decrypted and unread, pending, when the
        // other's killed it: the case the old code crashed on above.
        var answers = KillEachOtherWhilePending(server, tlsPort, certificate);
        Assert.Contains(["+OK", ":1"], answers);
        Assert.Contains([null, null], answers);
        Assert.Equal(["2"], Cli(port, "EXISTS pending:first pending:second"));
        Assert.True(server.IsAlive);
        Assert.Equal(["PONG"], Cli(port, "PING"));

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-81934");

        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        Assert.Equal(["value:4242"], Cli(port, "GET survivor:4242"));
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

    /// <summary>A self-signed certificate for 127.0.0.1, its PEM files in the work folder for redis.</summary>
    private X509Certificate2 Certificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(work, "redis.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(work, "redis.key"), key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    /// <summary>redis serving plain TCP on <paramref name="port"/> (for redis-cli) and TLS on <paramref name="tlsPort"/>, with
    /// the certificate of <see cref="Certificate"/>.</summary>
    private RunningFixture StartRedis(string binary, out int port, out int tlsPort)
    {
        port = Ports.Free();
        tlsPort = Ports.Free();
        var directory = Directory.CreateDirectory(Path.Combine(work, $"redis-{port}")).FullName;
        var crt = Path.Combine(work, "redis.crt");
        return RunningFixture.StartDaemon(binary, "Ready to accept connections", "--port", port.ToString(), "--bind", "127.0.0.1",
            "--tls-port", tlsPort.ToString(), "--tls-cert-file", crt, "--tls-key-file", Path.Combine(work, "redis.key"),
            "--tls-ca-cert-file", crt, "--tls-auth-clients", "no",
            "--dir", directory, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes");
    }

    /// <summary>redis-benchmark over TLS until killed (sets, gets, increments and pushes from 20 clients), what it prints
    /// (errors included) going to <paramref name="log"/>.</summary>
    private static Process Benchmark(int tlsPort, string log) =>
        Process.Start("/bin/sh", ["-c", $"exec redis-benchmark --tls --insecure -h 127.0.0.1 -p {tlsPort} -t set,get,incr,lpush -c 20 -r 100000 -l -q > '{log}' 2>&1"]);

    /// <summary>Waits until the benchmark's SETs have added keys to the <paramref name="keys"/> there were.</summary>
    private static void WaitForTraffic(int port, long keys)
    {
        var deadline = Stopwatch.StartNew();
        while (long.Parse(Cli(port, "DBSIZE").Single()) <= keys)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "redis-benchmark added no key");
            Thread.Sleep(100);
        }
    }

    private static string[] Cli(int port, string command)
    {
        var result = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {port} {command}");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
