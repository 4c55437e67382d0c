using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Graft.Linux.Interop;
using Graft.Patching.Target;

namespace Graft.Patching.Libraries;

/// <summary>
/// graftd's end of the socket its loader stub calls back on while graftd does not trace the
/// process (<see cref="X86.LoaderStubCode"/>): the stub writes a byte when a wanted loader
/// event comes and waits for graftd's byte back. graftd answers only while it traces the process
/// and the stub traps (<see cref="SetAttached"/>); a call that comes while it does not is kept
/// until then, and wakes graftd (<see cref="OnCall"/>) to attach. Every answer only lets the
/// stub check again, so an answer too many costs a thread one more round, never an event.
/// </summary>
internal sealed class LoaderChannel : IDisposable
{
    private const int SoPeercred = 17;
    private const int UcredSize = 12;
    private const int SockaddrUnFamilySize = 2;

    private readonly Socket socket;
    private readonly Lock gate = new();
    private readonly CancellationTokenSource closing = new();
    private readonly string processLink;
    private int unanswered;
    private bool attached;
    private Action? wake;

    private LoaderChannel(Socket socket, int processFd, ulong cookie, string processLink)
    {
        this.socket = socket;
        ProcessFd = processFd;
        Cookie = cookie;
        this.processLink = processLink;
        _ = Task.Run(ReadCalls);
    }

    /// <summary>The process's end: its descriptor number there, and its SO_COOKIE.</summary>
    public int ProcessFd { get; }

    public ulong Cookie { get; }

    /// <summary>
    /// Makes the process open its end, on the stopped thread <paramref name="tid"/>: a Unix
    /// stream socket (close-on-exec) connected to a listener of graftd's under a random abstract
    /// name, which listens for this one connection only and checks it came from the process
    /// (SO_PEERCRED). <paramref name="scratch"/> is room in the process for the address and the
    /// cookie. Null where the process cannot reach graftd's listener (another network namespace,
    /// a refused call).
    /// </summary>
    public static LoaderChannel? Open(TargetProcess target, int tid, ulong scratch)
    {
        // Guid.NewGuid: 122 bits from the kernel's random source (System.Native), where
        // RandomNumberGenerator is OpenSSL's, whose first use loads OpenSSL (~3.5 ms) while the
        // thread tid waits stopped. The name needs only to be hard to take first: SO_PEERCRED
        // decides who may connect.
        var name = $"\0graftd-loader-{Guid.NewGuid():N}";
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(name));
        listener.Listen(1);
        var fd = target.Syscalls.TrySocket(tid, Syscalls.AF_UNIX, Syscalls.SOCK_STREAM | Syscalls.SOCK_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }

        var address = new byte[SockaddrUnFamilySize + Encoding.ASCII.GetByteCount(name)];
        BinaryPrimitives.WriteUInt16LittleEndian(address, (ushort)Syscalls.AF_UNIX);
        Encoding.ASCII.GetBytes(name, address.AsSpan(SockaddrUnFamilySize));
        target.Memory.Write(scratch, address);

        // The listener's backlog takes the connection at once: connect does not wait for accept.
        var cookieAt = scratch + 128;
        target.Memory.Write(cookieAt + sizeof(ulong), BitConverter.GetBytes(sizeof(ulong)));
        if (target.Syscalls.TryConnect(tid, (int)fd, scratch, (ulong)address.Length) != 0
            || target.Syscalls.TryGetsockopt(tid, (int)fd, Syscalls.SOL_SOCKET, Syscalls.SO_COOKIE, cookieAt, cookieAt + sizeof(ulong)) != 0)
        {
            target.Syscalls.Close(tid, (int)fd);
            return null;
        }

        listener.Blocking = false;
        Socket accepted;
        try
        {
            accepted = listener.Accept();
        }
        catch (SocketException)
        {
            target.Syscalls.Close(tid, (int)fd);
            return null;
        }

        var credentials = new byte[UcredSize];
        accepted.GetRawSocketOption((int)Syscalls.SOL_SOCKET, SoPeercred, credentials);
        if (BinaryPrimitives.ReadInt32LittleEndian(credentials) != target.Pid)
        {
            accepted.Dispose();
            target.Syscalls.Close(tid, (int)fd);
            return null;
        }

        return new LoaderChannel(accepted, (int)fd, target.Memory.ReadUInt64(cookieAt), Link(target.Pid, (int)fd) ?? "");
    }

    /// <summary>Whether the process's descriptor is still its end of this socket (the same socket inode behind the number).</summary>
    public bool IsOpenIn(int pid) => Link(pid, ProcessFd) == processLink;

    private static string? Link(int pid, int fd)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the stub traps now (graftd traces the process and the stub's field says so): from
    /// then on calls are answered as they come, and the ones kept are answered at once. Set after
    /// the stub's field, and cleared before it (pairs with the stub reading the field before it
    /// calls).
    /// </summary>
    public void SetAttached(bool value)
    {
        lock (gate)
        {
            attached = value;
            if (value)
            {
                var kept = unanswered;
                unanswered = 0;
                Answer(kept);
            }
        }
    }

    /// <summary>What runs when the stub calls while graftd does not trace the process; at once if a call is already waiting.</summary>
    public void OnCall(Action callBack)
    {
        bool waiting;
        lock (gate)
        {
            wake = callBack;
            waiting = unanswered > 0 && !attached;
        }

        if (waiting)
        {
            ThreadPool.QueueUserWorkItem(_ => callBack());
        }
    }

    /// <summary>Closes graftd's end: a stub waiting or calling later reads the end and returns, as r_brk's `ret` would.</summary>
    public void Dispose()
    {
        closing.Cancel();
        socket.Dispose();
    }

    private async Task ReadCalls()
    {
        var calls = new byte[64];
        try
        {
            while (true)
            {
                var count = await socket.ReceiveAsync(calls, SocketFlags.None, closing.Token);
                if (count == 0)
                {
                    // The process has exited (or executed another program): nothing calls any more.
                    return;
                }

                Action? callBack = null;
                lock (gate)
                {
                    if (attached)
                    {
                        Answer(count);
                    }
                    else
                    {
                        unanswered += count;
                        callBack = wake;
                    }
                }

                if (callBack is not null)
                {
                    ThreadPool.QueueUserWorkItem(_ => callBack());
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed by graftd.
        }
    }

    private void Answer(int count)
    {
        if (count == 0)
        {
            return;
        }

        try
        {
            socket.Send(new byte[count]);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The process went; its stub waits for nothing.
        }
    }
}
