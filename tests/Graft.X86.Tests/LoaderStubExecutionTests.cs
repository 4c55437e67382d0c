using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

using Graft.X86.Tests.Native;

using Iced.Intel;

using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests;

/// <summary>
/// Runs graftd's loader stub natively, called the way ld.so calls r_brk, by a caller that loads
/// every general register and the flags with its own values and checks them all afterwards: a
/// caller of a bare `ret` built with -fipa-ra may rely on every one of them. The stub's trap byte
/// is a `cmc` here instead of graftd's int3, so the carry flag, flipped, tells that the stub
/// went the way that traps, and nothing else may differ.
/// </summary>
public sealed class LoaderStubExecutionTests
{
    private const int Consistent = 0;
    private const int Adding = 1;
    private const int CallerOffset = 0x800;

    // The loader's data, in the second page: struct r_debug of each namespace, the link_maps, their names.
    private const int DebugOffset = 0x1000;
    private const int DebugSize = 0x40;
    private const int LinkMapsOffset = 0x1200;
    private const int LinkMapSize = 0x28;
    private const int NamesOffset = 0x1800;
    private const byte Cmc = 0xf5;

    private static readonly string[][] OneNamespace = [["", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]];

    // CF, PF, AF, ZF, SF, OF set; DF clear, as the ABI wants it at a call.
    private const int Flags = 0x8d5;

    private const int Kept = 1;
    private const int Trapped = 2;

    private static readonly (AssemblerRegister64 Register, ulong Value)[] Expected = DispatcherRegisterTests.Expected;

    [Fact]
    public void AWantedEventInTheWatchedProcessWithGraftdAliveTraps()
    {
        using var graftd = new OwnPidfd();
        Assert.Equal(Trapped, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd.Fd));
    }

    [Fact]
    public void AnEventNotWantedReturnsWithoutASystemCall()
    {
        using var graftd = new OwnPidfd();
        Assert.Equal(Kept, Run(Adding, 1 << Consistent, Environment.ProcessId, graftd.Fd));
        Assert.Equal(Kept, Run(40, -1, Environment.ProcessId, graftd.Fd));
    }

    /// <summary>A forked child inherits the stub and the descriptor, but getpid() tells it apart.</summary>
    [Fact]
    public void AnotherProcessThanTheWatchedOneReturns()
    {
        using var graftd = new OwnPidfd();
        Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId + 1, graftd.Fd));
    }

    [Fact]
    public void NoPidfdReturns()
    {
        Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, -1));
    }

    /// <summary>poll() says POLLIN once graftd has exited: the stub returns as r_brk's `ret` would.</summary>
    [Fact]
    public void AGraftdThatHasExitedIsNotTrappedInto()
    {
        using var process = Process.Start("sleep", "30");
        var graftd = Pidfd.Open(process.Id);
        try
        {
            Assert.Equal(Trapped, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
            process.Kill();
            process.WaitForExit();
            Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
        }
        finally
        {
            Pidfd.Close(graftd);
        }
    }

    /// <summary>
    /// poll() says POLLNVAL for a descriptor the program closed. Its number is a high one: another test's open,
    /// running in parallel, took a low one again between the close and the poll (the stub then trapped).
    /// </summary>
    [Fact]
    public void AClosedPidfdIsNotTrappedInto()
    {
        var graftd = Pidfd.OpenAbove(Environment.ProcessId, 1000);
        Pidfd.Close(graftd);
        Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
    }

    /// <summary>
    /// graftd does not trace the process: the stub writes one byte to graftd and waits; graftd,
    /// tracing the process again, sets the field and answers, and the stub then traps.
    /// </summary>
    [Fact]
    public async Task AWantedEventWhileGraftdIsDetachedCallsItBackAndTrapsOnceAnswered()
    {
        using var graftd = new OwnPidfd();
        using var socket = new GraftdSocket();
        using var memory = Prepare(Consistent, 1 << Consistent, Environment.ProcessId, graftd.Fd, socket: socket);
        var call = Task.Factory.StartNew(() => Call(memory), TaskCreationOptions.LongRunning);
        var called = new byte[1];
        Assert.Equal(1, socket.Graftd.Receive(called));

        // Whatever time passes here, only graftd's answer lets the stub go on.
        Thread.Sleep(50);
        Assert.False(call.IsCompleted);
        SetAttached(memory, true);
        socket.Graftd.Send(called);
        Assert.Equal(Trapped, await call);
    }

    /// <summary>graftd gone while the stub waits: the read ends without a byte, and the stub returns as r_brk's `ret`.</summary>
    [Fact]
    public async Task AGraftdThatClosesItsEndWhileTheStubWaitsLetsItReturn()
    {
        using var graftd = new OwnPidfd();
        using var socket = new GraftdSocket();
        using var memory = Prepare(Consistent, 1 << Consistent, Environment.ProcessId, graftd.Fd, socket: socket);
        var call = Task.Factory.StartNew(() => Call(memory), TaskCreationOptions.LongRunning);
        Assert.Equal(1, socket.Graftd.Receive(new byte[1]));
        socket.Graftd.Close();
        Assert.Equal(Kept, await call);
    }

    /// <summary>The program closed graftd's socket and reused its number: the cookie differs, and the stub writes nothing to it.</summary>
    [Fact]
    public void ADescriptorThatIsNoLongerGraftdsSocketIsNotWrittenTo()
    {
        using var graftd = new OwnPidfd();
        using var socket = new GraftdSocket();
        using var other = new GraftdSocket();
        using var memory = Prepare(Consistent, 1 << Consistent, Environment.ProcessId, graftd.Fd, socket: socket with { Cookie = other.Cookie });
        Assert.Equal(Kept, Call(memory));
        Assert.Equal(0, socket.Graftd.Available);
    }

    [Fact]
    public void AnEventNotWantedWhileGraftdIsDetachedIsNotCalledBack()
    {
        using var graftd = new OwnPidfd();
        using var socket = new GraftdSocket();
        using var memory = Prepare(Adding, 1 << Consistent, Environment.ProcessId, graftd.Fd, socket: socket);
        Assert.Equal(Kept, Call(memory));
        Assert.Equal(0, socket.Graftd.Available);
    }

    [Fact]
    public void NoSocketWhileGraftdIsDetachedReturns()
    {
        using var graftd = new OwnPidfd();
        using var memory = Prepare(Consistent, 1 << Consistent, Environment.ProcessId, graftd.Fd);
        var bytes = memory.Bytes;
        Assert.Equal(-1, BinaryPrimitives.ReadInt32LittleEndian(bytes[LoaderStubCode.SocketOffset..]));
        SetAttached(memory, false);
        Assert.Equal(Kept, Call(memory));
    }

    /// <summary>The graftd Graft.Patching's LoaderStub uses must hash as the stub does: FNV-1a, 64 bits (its published test vectors).</summary>
    [Fact]
    public void NamesHashAsFnv1a64()
    {
        Assert.Equal(0xcbf29ce484222325UL, LoaderStubCode.NameHash([]));
        Assert.Equal(0xaf63dc4c8601ec8cUL, LoaderStubCode.NameHash("a"u8));
        Assert.Equal(0x85944171f73967e8UL, LoaderStubCode.NameHash("foobar"u8));
    }

    [Fact]
    public void AnRtConsistentWithEveryObjectKnownReturns()
    {
        using var graftd = new OwnPidfd();
        Assert.Equal(Kept, Run(Consistent, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, OneNamespace, OneNamespace[0]));
    }

    [Fact]
    public void AnRtConsistentWithAnObjectNotKnownTraps()
    {
        using var graftd = new OwnPidfd();
        string[][] loaded = [[.. OneNamespace[0], "/opt/app/libnew.so"]];
        Assert.Equal(Trapped, Run(Consistent, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, loaded, OneNamespace[0]));

        // Known by its name only: the same file under another path is another name.
        Assert.Equal(Trapped, Run(Consistent, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, loaded, [.. OneNamespace[0], "libnew.so"]));
    }

    /// <summary>dlmopen's namespaces: r_next of an r_debug of version 2 (glibc 2.35 on) leads to the next one's objects.</summary>
    [Fact]
    public void AnObjectNotKnownInAnotherNamespaceTraps()
    {
        using var graftd = new OwnPidfd();
        string[][] loaded = [OneNamespace[0], ["/lib64/ld-linux-x86-64.so.2", "/opt/app/libisolated.so"]];
        Assert.Equal(Trapped, Run(Consistent, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, loaded, OneNamespace[0]));
        Assert.Equal(Kept, Run(Consistent, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, loaded, [.. loaded[0], .. loaded[1]]));
    }

    /// <summary>The filter only decides RT_CONSISTENT: RT_ADD and RT_DELETE trap only if wanted outright.</summary>
    [Fact]
    public void TheKnownObjectsFilterLeavesOtherEventsAlone()
    {
        using var graftd = new OwnPidfd();
        string[][] loaded = [[.. OneNamespace[0], "/opt/app/libnew.so"]];
        Assert.Equal(Kept, Run(Adding, (int)LoaderStubCode.KnownObjectsFilter, Environment.ProcessId, graftd.Fd, loaded, OneNamespace[0]));
    }

    /// <summary>Kept (1) if the stub returned everything as it found it, Trapped (2) if only the carry flag differs, 0 otherwise.</summary>
    private static int Run(int state, int wanted, int processId, int pidfd, string[][]? namespaces = null, string[]? known = null)
    {
        using var memory = Prepare(state, wanted, processId, pidfd, namespaces, known);
        return Call(memory);
    }

    /// <summary>The stub, its fields, the loader's lists and the checking caller; graftd traces the process unless the caller clears <see cref="LoaderStubCode.AttachedOffset"/>.</summary>
    private static MappedMemory Prepare(int state, int wanted, int processId, int pidfd, string[][]? namespaces = null, string[]? known = null, GraftdSocket? socket = null)
    {
        var memory = new MappedMemory(8192);
        var stub = LoaderStubCode.Code(memory.Address + DebugOffset, processId);
        stub[LoaderStubCode.TrapOffset] = Cmc;
        BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.GraftdPidfdOffset), pidfd);
        BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.WantedEventsOffset), wanted);
        BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.AttachedOffset), socket is null ? 1 : 0);
        if (socket is not null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.SocketOffset), socket.ProcessFd);
            BinaryPrimitives.WriteUInt64LittleEndian(stub.AsSpan(LoaderStubCode.SocketCookieOffset), socket.Cookie);
        }

        stub.CopyTo(memory.Bytes);
        var hashes = (known ?? []).Select(n => LoaderStubCode.NameHash(Encoding.UTF8.GetBytes(n))).ToList();
        BinaryPrimitives.WriteInt32LittleEndian(memory.Bytes[LoaderStubCode.KnownCountOffset..], hashes.Count);
        for (var index = 0; index < hashes.Count; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(memory.Bytes[(LoaderStubCode.KnownHashesOffset + (index * 8))..], hashes[index]);
        }

        WriteLoaderLists(memory, namespaces ?? OneNamespace, state);
        Assembled.At(memory.Address + CallerOffset, assembler => CallAndCheck(assembler, memory.Address)).CopyTo(memory.Bytes[CallerOffset..]);
        memory.MakeExecutable();
        return memory;
    }

    private static unsafe int Call(MappedMemory memory) => ((delegate* unmanaged<int>)(memory.Address + CallerOffset))();

    /// <summary>graftd writes the field as it does in a target: through /proc/PID/mem, into a page that is not writable.</summary>
    private static void SetAttached(MappedMemory memory, bool attached)
    {
        using var self = File.OpenHandle("/proc/self/mem", FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(self, [attached ? (byte)1 : (byte)0, 0, 0, 0], (long)memory.Address + LoaderStubCode.AttachedOffset);
    }

    /// <summary>An r_debug per namespace (version 2, chained by r_next, when there are several), each with its link_maps.</summary>
    private static void WriteLoaderLists(MappedMemory memory, string[][] namespaces, int state)
    {
        var bytes = memory.Bytes;
        var map = LinkMapsOffset;
        var name = NamesOffset;
        for (var space = 0; space < namespaces.Length; space++)
        {
            var debug = DebugOffset + (space * DebugSize);
            BinaryPrimitives.WriteInt32LittleEndian(bytes[debug..], namespaces.Length > 1 ? 2 : 1);
            BinaryPrimitives.WriteInt32LittleEndian(bytes[(debug + 24)..], state);
            var next = space + 1 < namespaces.Length ? memory.Address + (ulong)(debug + DebugSize) : 0;
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[(debug + 40)..], next);
            var link = debug + 8;
            foreach (var objectName in namespaces[space])
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes[link..], memory.Address + (ulong)map);
                Encoding.UTF8.GetBytes(objectName).CopyTo(bytes[name..]);
                BinaryPrimitives.WriteUInt64LittleEndian(bytes[(map + 8)..], memory.Address + (ulong)name);
                name += objectName.Length + 1;
                link = map + 24;
                map += LinkMapSize;
            }
        }
    }

    private static void CallAndCheck(Assembler assembler, ulong stub)
    {
        AssemblerRegister64[] calleeSaved = [rbx, rbp, r12, r13, r14, r15];
        foreach (var register in calleeSaved)
        {
            assembler.push(register);
        }

        // Six pushes and the return address: rsp is 16-byte aligned at the call, as at any.
        foreach ((var register, var value) in Expected)
        {
            assembler.mov(register, value);
        }

        assembler.push(Flags);
        assembler.popfq();
        assembler.call(stub);
        assembler.pushfq();

        // Compared through the stack, so that no register is overwritten before it is checked.
        var mismatch = assembler.CreateLabel();
        var done = assembler.CreateLabel();
        foreach ((var register, var value) in Expected)
        {
            assembler.push(register);
            assembler.mov(register, value);
            assembler.cmp(__qword_ptr[rsp], register);
            assembler.pop(register);
            assembler.jne(mismatch);
        }

        // The flags as the stub left them, but for the ones popfq cannot set in user mode (IF, and the reserved bit 1).
        assembler.pop(rax);
        assembler.and(rax, 0xfff & ~0x202);
        assembler.mov(ecx, Kept);
        assembler.cmp(rax, Flags);
        assembler.je(done);
        assembler.mov(ecx, Trapped);
        assembler.cmp(rax, Flags ^ 1);
        assembler.je(done);
        assembler.xor(ecx, ecx);
        assembler.jmp(done);

        // A register differs: the flags pushed after the call are still on the stack.
        assembler.Label(ref mismatch);
        assembler.pop(rax);
        assembler.xor(ecx, ecx);
        assembler.Label(ref done);
        assembler.mov(eax, ecx);
        foreach (var register in Enumerable.Reverse(calleeSaved))
        {
            assembler.pop(register);
        }

        assembler.ret();
    }

    /// <summary>A connected Unix stream socket: the process's end (blocking, as the one graftd makes a target open) and graftd's.</summary>
    private sealed record GraftdSocket : IDisposable
    {
        public GraftdSocket()
        {
            var name = new UnixDomainSocketEndPoint($"\0graft-stub-test-{Guid.NewGuid():N}");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(name);
            listener.Listen(1);
            Process = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            Process.Connect(name);
            Graftd = listener.Accept();
            var cookie = new byte[8];
            Process.GetRawSocketOption(SolSocket, SoCookie, cookie);
            Cookie = BinaryPrimitives.ReadUInt64LittleEndian(cookie);
        }

        private const int SolSocket = 1;
        private const int SoCookie = 57;

        public Socket Process { get; }

        public Socket Graftd { get; }

        public ulong Cookie { get; init; }

        public int ProcessFd => (int)Process.Handle;

        public void Dispose()
        {
            Process.Dispose();
            Graftd.Dispose();
        }
    }

    /// <summary>A pidfd of the test's own process: graftd alive.</summary>
    private sealed class OwnPidfd : IDisposable
    {
        public int Fd { get; } = Pidfd.Open(Environment.ProcessId);

        public void Dispose() => Pidfd.Close(Fd);
    }
}
