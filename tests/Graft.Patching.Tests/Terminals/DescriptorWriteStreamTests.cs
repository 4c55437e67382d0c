using System.IO.Pipes;
using Graft.Linux.Interop;
using Graft.Linux.Terminals;

namespace Graft.Patching.Tests.Terminals;

/// <summary>graft's stdout and stderr: written with write(2), whole, and quietly dropped once the reader has gone.</summary>
public sealed class DescriptorWriteStreamTests
{
    [Fact]
    public async Task WritesEveryByteToTheDescriptor()
    {
        using var reader = new AnonymousPipeServerStream(PipeDirection.In);
        using var writer = new AnonymousPipeClientStream(PipeDirection.Out, reader.ClientSafePipeHandle);
        var text = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var received = new MemoryStream();
        var reading = reader.CopyToAsync(received);

        new DescriptorWriteStream((int)writer.SafePipeHandle.DangerousGetHandle()).Write(text);
        writer.Dispose();
        reader.DisposeLocalCopyOfClientHandle();
        await reading;

        Assert.Equal(text, received.ToArray());
    }

    [Fact]
    public void APipeWithoutReaderTakesNothingAndIsNoError()
    {
        var reader = new AnonymousPipeServerStream(PipeDirection.In);
        using var writer = new AnonymousPipeClientStream(PipeDirection.Out, reader.ClientSafePipeHandle);
        reader.Dispose();

        new DescriptorWriteStream((int)writer.SafePipeHandle.DangerousGetHandle()).Write("lost\n"u8);
    }

    [Fact]
    public void AnyOtherFailureIsAnIOExceptionWithTheErrno()
    {
        using var readOnly = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);

        var failure = Assert.Throws<IOException>(() => new DescriptorWriteStream((int)readOnly.DangerousGetHandle()).Write("x"u8));

        Assert.Equal(Errno.EBADF, Assert.IsType<ErrnoException>(failure.InnerException).Errno);
    }
}
