using System.Net.Sockets;
using System.Text;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's nginx (nginx-light, installed by scripts/install-deps.sh) run as a master and two
/// workers from a private prefix under a temp directory, on 127.0.0.1 and a free port, never the
/// system's service. The binary is a copy in that directory: graft apply --object on the copy
/// reaches this server alone, whatever else on the host runs /usr/sbin/nginx.
/// </summary>
internal sealed class NginxServer : IDisposable
{
    public const string DebianBinary = "/usr/sbin/nginx";

    /// <summary>The time of the file it serves, as Last-Modified says it when ngx_http_time is not patched.</summary>
    public const string FileTime = "Mon, 01 Jan 2001 00:00:00 GMT";

    private static readonly TimeSpan WorkersTimeout = TimeSpan.FromSeconds(30);
    private readonly string directory;
    private readonly RunningFixture master;
    private readonly int port;

    private NginxServer(string directory, RunningFixture master, int port)
    {
        this.directory = directory;
        this.master = master;
        this.port = port;
    }

    public int MasterPid => master.Pid;

    /// <summary>The copy of Debian's binary this server runs.</summary>
    public string Binary => Path.Combine(directory, "nginx");

    public static NginxServer Start()
    {
        var directory = Directory.CreateTempSubdirectory("graft-nginx-").FullName;
        var html = Directory.CreateDirectory(Path.Combine(directory, "html")).FullName;
        // Workers run as nobody: they read the served file through these directories.
        Shell.Run("chmod", "755", directory, html);
        var page = Path.Combine(html, "index.html");
        File.WriteAllText(page, "hello\n");
        File.SetLastWriteTimeUtc(page, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.Copy(DebianBinary, Path.Combine(directory, "nginx"));
        var port = Ports.Free();
        // reuseport: each worker has its own listening socket and the kernel spreads new
        // connections over them, so a few dozen requests reach every worker.
        File.WriteAllText(Path.Combine(directory, "nginx.conf"), $$"""
            daemon off;
            master_process on;
            worker_processes 2;
            error_log stderr notice;
            pid {{directory}}/nginx.pid;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                server {
                    listen 127.0.0.1:{{port}} reuseport;
                    root {{html}};
                    add_header X-Worker $pid;
                }
            }
            """);
        var master = RunningFixture.StartDaemon(Path.Combine(directory, "nginx"), "start worker process",
            "-p", directory, "-c", Path.Combine(directory, "nginx.conf"), "-e", "stderr");
        return new NginxServer(directory, master, port);
    }

    /// <summary>The master's children once there are two of them and none is in <paramref name="old"/> (after a reload, the old ones have gone).</summary>
    public IReadOnlySet<int> WaitForWorkers(IReadOnlySet<int> old)
    {
        var deadline = DateTime.UtcNow + WorkersTimeout;
        while (true)
        {
            var children = File.ReadAllText($"/proc/{MasterPid}/task/{MasterPid}/children")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
            if (children.Count == 2 && !children.Overlaps(old))
            {
                return children;
            }

            Assert.True(DateTime.UtcNow < deadline, $"nginx's master has children {string.Join(' ', children)}, not two new workers");
            Thread.Sleep(20);
        }
    }

    /// <summary>Reloads the configuration as nginx -s reload does: the master forks new workers and lets the old ones finish.</summary>
    public void Reload() => master.Signal("HUP");

    /// <summary><paramref name="count"/> requests, each on a new connection: which worker served it and the Last-Modified it sent.</summary>
    public IReadOnlyList<(int Worker, string LastModified)> Serve(int count) => [.. Enumerable.Range(0, count).Select(_ => Get())];

    public void Dispose()
    {
        // setsid made the master a process group leader, and its workers are in its group.
        Shell.Run("kill", "-KILL", "--", $"-{MasterPid}");
        master.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private (int Worker, string LastModified) Get()
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var stream = client.GetStream();
        stream.Write("GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n"u8);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var headers = reader.ReadToEnd().Split("\r\n\r\n")[0].Split("\r\n").Skip(1)
            .Select(line => line.Split(": ", 2)).ToDictionary(pair => pair[0], pair => pair[1]);
        return (int.Parse(headers["X-Worker"]), headers["Last-Modified"]);
    }
}
