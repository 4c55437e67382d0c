using Graft.Linux.Interop;

namespace Graft.Linux.Terminals;

/// <summary>
/// A stream that writes to an inherited descriptor (stdout, stderr) with write(2), as System.Console's own streams
/// do, without their console set-up: the first write of those switches a terminal to keypad transmit mode
/// (ESC[?1h ESC=, written before the text and left behind at exit). Like them, it writes at the descriptor's own
/// offset (a file shared with other processes keeps everyone's lines), waits when the descriptor is non-blocking
/// and full, and drops what a closed pipe would not take (EPIPE: `graft list --all | head -1` is no failure).
/// </summary>
public sealed class DescriptorWriteStream(int fd) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <exception cref="IOException">write(2) failed other than with EPIPE (its <see cref="ErrnoException"/> inside).</exception>
    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            var written = 0;
            while (written < buffer.Length)
            {
                var result = Files.write(fd, start + written, buffer.Length - written);
                if (result >= 0)
                {
                    written += (int)result;
                    continue;
                }

                var error = ErrnoException.FromLastError($"write to descriptor {fd}");
                switch (error.Errno)
                {
                    case Errno.EINTR:
                        break;
                    case Errno.EAGAIN:
                        WaitUntilWritable();
                        break;
                    case Errno.EPIPE:
                        return;
                    default:
                        throw new IOException(error.Message, error);
                }
            }
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Errors are left to the write that follows, which reports them.</summary>
    private void WaitUntilWritable()
    {
        var descriptor = new Poll.pollfd { fd = fd, events = Poll.POLLOUT };
        Poll.poll(ref descriptor, 1, -1);
    }
}
