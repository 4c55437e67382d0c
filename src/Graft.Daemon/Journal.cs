namespace Graft.Daemon;

/// <summary>What graftd did, one timestamped line each, appended to a file and echoed to stdout (systemd's journal).</summary>
internal sealed class Journal : IDisposable
{
    private readonly StreamWriter file;
    private readonly Lock gate = new();

    public Journal(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    public void Write(string line)
    {
        var stamped = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {line}";
        lock (gate)
        {
            file.WriteLine(stamped);
            Console.WriteLine(stamped);
        }
    }

    public void Dispose() => file.Dispose();
}
