namespace Graft.Linux.Tracing;

/// <summary>
/// The process is stopped by job control (SIGSTOP, SIGTSTP, Ctrl-Z): its threads cannot run the
/// code Graft needs run, and whoever stopped it expects it to stay so. Graft changes nothing.
/// </summary>
public sealed class TargetStoppedException(int pid)
    : Exception($"process {pid} is stopped (SIGSTOP, SIGTSTP or Ctrl-Z); graft changes nothing in a stopped process and left it stopped: resume it with `kill -CONT {pid}`, then run graft again");
