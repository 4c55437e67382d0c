namespace Graft.Linux.Tracing;

/// <summary>Another tracer holds the process (a process has one); <see cref="TracerCommand"/> is its command (comm), when it could be read.</summary>
public sealed class AlreadyTracedException(string message, string? tracerCommand) : UnauthorizedAccessException(message)
{
    public string? TracerCommand { get; } = tracerCommand;
}
