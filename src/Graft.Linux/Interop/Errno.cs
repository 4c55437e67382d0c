namespace Graft.Linux.Interop;

/// <summary>The errno values Graft reacts to, with their C names.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOTTY = 25;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;
    public const int EMEDIUMTYPE = 124;

    // The kernel's own "restart me" results (<linux/errno.h>): never seen by a program, only by
    // a tracer that stops a thread on its way out of an interrupted system call. The kernel
    // restarts the call unless a handler runs; then it fails with EINTR, except after
    // ERESTARTSYS with SA_RESTART or ERESTARTNOINTR.
    public const int ERESTARTSYS = 512;
    public const int ERESTARTNOINTR = 513;
    public const int ERESTARTNOHAND = 514;
    public const int ERESTART_RESTARTBLOCK = 516;

    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EIO => "EIO",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        ENODEV => "ENODEV",
        EINVAL => "EINVAL",
        ENOTTY => "ENOTTY",
        EPIPE => "EPIPE",
        ENOSYS => "ENOSYS",
        EMEDIUMTYPE => "EMEDIUMTYPE",
        _ => $"errno {errno}",
    };
}
