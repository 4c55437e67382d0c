using Graft.IntegrationTests.RealDaemons;
using Graft.IntegrationTests.Support;
using Graft.Model.State;
using Graft.X86;

namespace Graft.IntegrationTests.Daemon;

/// <summary>
/// graftd's loader stub (docs/ARCHITECTURE.md, "A graftd that dies"): r_brk jumps to it, and it
/// traps only in the process graftd watches and only while graftd lives. Each program here has a
/// SIGTRAP handler of its own, which graft's own handler never replaces: an int3 of graftd's
/// reached with no graftd to take it ends the program ("sigtrap", exit 5).
/// </summary>
public sealed class LoaderStubTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graftd-stub-").FullName;

    private string Socket => Path.Combine(directory, "graftd.sock");

    private string Journal => Path.Combine(directory, "graftd.journal");

    /// <summary>
    /// graftd holds the process (stack_p1 names libstackmod.so, not loaded) and is killed
    /// outright: the process loads and unloads the library on its own, unpatched, and a graftd
    /// started again takes the stub over and patches the next load.
    /// </summary>
    [Fact]
    public void AProgramWithItsOwnSigtrapHandlerLoadsLibrariesAfterGraftdIsKilled()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        Assert.Equal("trap-handler installed", host.Send("trap-handler", ""));
        ArmThenKillGraftd(host);
        for (var round = 0; round < 3; round++)
        {
            Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", ""));
            Assert.StartsWith("call ", host.Send("call libstackmod.so stack_b", ""));
            Assert.Equal("unloaded libstackmod.so", host.Send("unload libstackmod.so", ""));
        }

        Assert.True(host.IsAlive);
        using var second = GraftdProcess.Start(Socket, Journal);
        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", ""));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, second.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// A stub that a graftd of another version left (its layout mark is not this Graft's) is never
    /// rewritten, for a thread may be running it: the next graftd says so and does not watch the
    /// process, which goes on loading libraries through that stub on its own.
    /// </summary>
    [Fact]
    public void AStubAnotherVersionOfGraftdLeftIsLeftAlone()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        Assert.Equal("trap-handler installed", host.Send("trap-handler", ""));
        ArmThenKillGraftd(host);
        var stub = StubAddress(host.Pid);
        WriteMemory(host.Pid, stub + LoaderStubCode.LayoutMarkOffset, BitConverter.GetBytes(0x3130_5453u)); // "STB0": an older layout
        var before = ReadMemory(host.Pid, stub, LoaderStubCode.Size);

        using var second = GraftdProcess.Start(Socket, Journal);
        second.WaitForJournal(l => l.Contains("a graftd of another version wrote", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", ""));
        Assert.Equal("call b-old+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal("unloaded libstackmod.so", host.Send("unload libstackmod.so", ""));
        Assert.Equal(before, ReadMemory(host.Pid, stub, LoaderStubCode.Size));
        Assert.Equal(0, second.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// A child forked from a process graftd holds is not traced (graftd lets children go) but
    /// inherits the jump on r_brk: it loads and unloads a library on its own, while graftd
    /// still patches the parent's next load.
    /// </summary>
    [Fact]
    public void AChildForkedFromAHeldProcessLoadsLibrariesOnItsOwn()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        Assert.Equal("trap-handler installed", host.Send("trap-handler", ""));
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");

        // Wait status 0: the child exited 0; a child that took the trap would report 5 << 8.
        Assert.Equal("fork-load 0", host.Send("fork-load libstackmod.so", ""));
        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", ""));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, graftd.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// A library graftd has seen once loads and unloads again without a stop: with graftd frozen
    /// (SIGSTOP), a stop would wait for it, and the load would not answer. A library not seen
    /// before, here the one stack_p1 names, does stop, and is patched once graftd goes on.
    /// </summary>
    [Fact]
    public void ALibraryGraftdHasSeenComesAndGoesWithoutAStop()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");
        Assert.Equal("loaded libcbmod.so", host.Send("load libcbmod.so", ""));
        Assert.Equal("unloaded libcbmod.so", host.Send("unload libcbmod.so", ""));

        var skip = 0;
        graftd.Signal("STOP");
        try
        {
            for (var round = 0; round < 3; round++)
            {
                Assert.Equal("loaded libcbmod.so", host.Send("load libcbmod.so", "", TimeSpan.FromSeconds(10)));
                Assert.Equal("unloaded libcbmod.so", host.Send("unload libcbmod.so", "", TimeSpan.FromSeconds(10)));
            }

            skip = host.Lines().Count;
            host.Write("load libstackmod.so");
            Thread.Sleep(500);
            Assert.Equal(skip, host.Lines().Count);
        }
        finally
        {
            graftd.Signal("CONT");
        }

        Assert.Equal("loaded libstackmod.so", host.WaitForLine(l => l.StartsWith("load", StringComparison.Ordinal), TimeSpan.FromSeconds(30), skip));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, graftd.Stop());
    }

    /// <summary>
    /// The case that once killed Debian's redis-server with SIGTRAP: graftd holds it, for
    /// lib_greeting names libfixture.so.1, which redis may load, and is killed outright. MODULE
    /// LOAD of that library, which is no module, goes through r_brk both ways (redis dlopens it,
    /// finds no RedisModule_OnLoad and dlcloses it): three times with no graftd, then with a
    /// graftd started again, which watches redis again and patches the library as it comes.
    /// </summary>
    [Fact]
    public void RedisLoadsModulesAfterGraftdIsKilled()
    {
        var port = Ports.Free();
        using var redis = RunningFixture.StartDaemon(RedisTests.RedisServer, "Ready to accept connections",
            "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-module-command", "yes");
        using (var graftd = GraftdProcess.Start(Socket, Journal))
        {
            Apply(redis, "lib_greeting");
            Assert.Contains(graftd.ReadJournal(), l => l.EndsWith($"watching process {redis.Pid}", StringComparison.Ordinal));
            Assert.DoesNotContain(graftd.ReadJournal(), l => l.EndsWith($"released process {redis.Pid}", StringComparison.Ordinal));
            graftd.Kill();
        }

        AwaitNoTracer(redis.Pid);
        for (var round = 0; round < 3; round++)
        {
            LoadNoModule(redis, port);
        }

        var skip = File.ReadAllLines(Journal).Length;
        using var second = GraftdProcess.Start(Socket, Journal);
        second.WaitForJournal(l => l.EndsWith($"watching process {redis.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(10), skip);
        LoadNoModule(redis, port);
        second.WaitForJournal(l => l.EndsWith($"process {redis.Pid}: applying patch 'lib-greeting' to loading module 'libfixture.so.1'", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), skip);
        Assert.Equal(["PONG"], RedisTests.Cli(port, "PING"));
        Assert.Equal(0, second.Stop());
        Assert.True(redis.IsAlive);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>MODULE LOAD of libfixture.so.1, refused by redis after its dlopen succeeded, as its log says.</summary>
    private static void LoadNoModule(RunningFixture redis, int port)
    {
        var skip = redis.Lines().Count;
        var reply = Assert.Single(RedisTests.Cli(port, $"MODULE LOAD {Repository.Fixture("libfixture.so.1")}"));
        Assert.StartsWith("ERR Error loading the extension", reply);
        redis.WaitForLine(l => l.Contains("does not export RedisModule_OnLoad()", StringComparison.Ordinal), TimeSpan.FromSeconds(5), skip);
        Assert.True(redis.IsAlive);
    }

    /// <summary>A graftd holds the process for stack_p1 (libstackmod.so not loaded), its stub armed, and is killed outright.</summary>
    private void ArmThenKillGraftd(RunningFixture host)
    {
        using (var graftd = GraftdProcess.Start(Socket, Journal))
        {
            Apply(host, "stack_p1");
            graftd.Kill();
        }

        AwaitNoTracer(host.Pid);
    }

    private void Apply(RunningFixture host, string patch)
    {
        var apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch(patch));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
    }

    /// <summary>Where graftd's loader stub is in the process: in the state mapping, which the memory map names.</summary>
    private static ulong StubAddress(int pid)
    {
        var mapping = File.ReadLines($"/proc/{pid}/maps").First(l => l.Contains($"/memfd:{StateLayout.MappingName}", StringComparison.Ordinal));
        return Convert.ToUInt64(mapping[..mapping.IndexOf('-', StringComparison.Ordinal)], 16) + StateLayout.LoaderStubOffset;
    }

    private static byte[] ReadMemory(int pid, ulong address, int length)
    {
        using var memory = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read);
        memory.Position = (long)address;
        var bytes = new byte[length];
        memory.ReadExactly(bytes);
        return bytes;
    }

    private static void WriteMemory(int pid, ulong address, byte[] bytes)
    {
        using var memory = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Write);
        memory.Position = (long)address;
        memory.Write(bytes);
    }

    /// <summary>The kernel detaches a dead tracer's tracees as it exits; this waits until it has.</summary>
    private static void AwaitNoTracer(int pid)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (GraftdTests.TracerOf(pid) != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"process {pid} still traced 10 s after graftd was killed");
            Thread.Sleep(10);
        }
    }
}
