using Graft.Linux.Interop;
using Microsoft.Win32.SafeHandles;

namespace Graft.Linux.Trust;

/// <summary>
/// A file whose code Graft will run inside another process, read once through one open file
/// descriptor after checking what that descriptor is: a regular file only root can have
/// written, reached through directories only root can change. Everything Graft does with
/// the file afterwards uses these bytes, never the path again, so a path that changes meanwhile
/// (a symlink flipped, a file renamed over) changes nothing.
/// </summary>
public sealed class CheckedFile
{
    private CheckedFile(string path, string resolvedPath, byte[] bytes)
    {
        Path = path;
        ResolvedPath = resolvedPath;
        Bytes = bytes;
    }

    /// <summary>The path as given.</summary>
    public string Path { get; }

    /// <summary>The file the descriptor was opened on, symlinks resolved.</summary>
    public string ResolvedPath { get; }

    public byte[] Bytes { get; }

    /// <summary>Opens, checks and reads <paramref name="path"/>; refuses with <see cref="UntrustedFileException"/>.</summary>
    public static CheckedFile Read(string path, long maxBytes)
    {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must not become ours.
        var fd = Files.open(path, Files.O_RDONLY | Files.O_NONBLOCK | Files.O_NOCTTY | Files.O_CLOEXEC);
        if (fd < 0)
        {
            throw new UntrustedFileException($"cannot open {path}: {ErrnoException.FromLastError("open").Message}");
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Files.fstat(fd, out var status) != 0)
        {
            throw new UntrustedFileException($"cannot read {path}: {ErrnoException.FromLastError("fstat").Message}");
        }

        var resolved = ResolveDescriptor(fd, path);
        CheckFile(path, status, maxBytes);
        CheckDirectories(path, resolved);

        var bytes = new byte[status.st_size];
        using (var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0))
        {
            stream.ReadExactly(bytes);
            if (stream.ReadByte() != -1)
            {
                throw new UntrustedFileException($"{path} grew while graft read it");
            }
        }

        return new CheckedFile(path, resolved, bytes);
    }

    private static void CheckFile(string path, Stat status, long maxBytes)
    {
        if ((status.st_mode & Files.S_IFMT) != Files.S_IFREG)
        {
            throw new UntrustedFileException($"{path} is not a regular file");
        }

        if (status.st_size > maxBytes)
        {
            throw new UntrustedFileException($"{path} is {status.st_size} bytes, more than the {maxBytes} a patch may have");
        }

        CheckOwnership(path, "file", status);
    }

    /// <summary>
    /// Every directory from the root to the file: another user able to rename entries in one of
    /// them could have put a file of theirs at this path. A sticky directory (/tmp) lets nobody
    /// rename what another user owns.
    /// </summary>
    private static void CheckDirectories(string path, string resolved)
    {
        for (var directory = System.IO.Path.GetDirectoryName(resolved); directory is not null; directory = System.IO.Path.GetDirectoryName(directory))
        {
            if (Files.stat(directory, out var status) != 0)
            {
                throw new UntrustedFileException($"cannot check {directory}, a directory above {path}: {ErrnoException.FromLastError("stat").Message}");
            }

            if ((status.st_mode & Files.S_ISVTX) == 0)
            {
                CheckOwnership(path, $"directory {directory} above it", status);
            }
        }
    }

    /// <summary>
    /// Owned by root and writable by no other user: anyone else who could write the file could put
    /// their code into every process graft patches with it (graft itself runs as root or with
    /// CAP_SYS_PTRACE, <see cref="Privilege"/>).
    /// </summary>
    private static void CheckOwnership(string path, string what, Stat status)
    {
        if (status.st_uid != 0)
        {
            throw new UntrustedFileException($"{path}: its {what} is owned by uid {status.st_uid}, not root");
        }

        if ((status.st_mode & Files.S_IWOTH) != 0
            || ((status.st_mode & Files.S_IWGRP) != 0 && status.st_gid != 0))
        {
            throw new UntrustedFileException($"{path}: its {what} is writable by other users (mode {Convert.ToString(status.st_mode & 0xfff, 8)})");
        }
    }

    private static string ResolveDescriptor(int fd, string path)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? System.IO.Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return System.IO.Path.GetFullPath(path);
        }
    }
}
