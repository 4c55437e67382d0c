using Graft.Linux.Interop;

namespace Graft.Linux.Terminals;

/// <summary>
/// The size of the terminal a descriptor is, read with TIOCGWINSZ: what System.Console.WindowWidth reads too, but
/// without setting up the console, whose first use switches the terminal to keypad transmit mode (ESC[?1h ESC=).
/// </summary>
public readonly record struct TerminalSize(int Columns, int Rows)
{
    /// <summary>
    /// The size of the terminal <paramref name="fd"/> is, or null when it is not a terminal (or is closed), or when the
    /// terminal does not know its width (0 columns: a pseudo-terminal nobody sized, as script(1) makes without one).
    /// </summary>
    /// <exception cref="ErrnoException">The terminal did not answer (EIO once it has hung up).</exception>
    public static TerminalSize? Of(int fd)
    {
        if (Ioctl.ioctl(fd, Ioctl.TIOCGWINSZ, out var size) != 0)
        {
            var error = ErrnoException.FromLastError($"ioctl TIOCGWINSZ on descriptor {fd}");
            return error.Errno is Errno.ENOTTY or Errno.EBADF ? null : throw error;
        }

        return size.ws_col > 0 ? new TerminalSize(size.ws_col, size.ws_row) : null;
    }
}
