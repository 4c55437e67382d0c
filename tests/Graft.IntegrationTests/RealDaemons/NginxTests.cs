using System.Text.Json;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// A master/worker service patched by object, as an operator patches one: nginx's master and
/// every worker at once, so that workers the master forks later (a reload) run the fix too.
/// Patched worker by worker, the master kept the old code and a reload dropped the fix to 0 %.
/// </summary>
public sealed class NginxTests
{
    private const string Patched = "Fri, 13 Feb 2009 23:31:30 GMT";

    [Fact]
    public void ApplyByObjectCoversTheMasterSoWorkersForkedByAReloadRunTheFix()
    {
        using var nginx = NginxServer.Start();
        var workers = nginx.WaitForWorkers(new HashSet<int>());
        AssertServed(nginx, workers, NginxServer.FileTime);

        var apply = Shell.Graft("apply", "--object", nginx.Binary, Repository.Patch("nginx_http_time"), "--json");

        Assert.True(apply.ExitCode == 0, apply.Stdout + apply.Stderr);
        using (var document = JsonDocument.Parse(apply.Stdout))
        {
            var processes = document.RootElement.GetProperty("processes").EnumerateArray().ToList();
            Assert.Equal([nginx.MasterPid, .. workers.Order()], processes.Select(p => p.GetProperty("pid").GetInt32()).Order());
            Assert.All(processes, p => Assert.Equal("applied", p.GetProperty("outcome").GetString()));
        }

        AssertServed(nginx, workers, Patched);

        nginx.Reload();
        var forked = nginx.WaitForWorkers(workers);
        AssertServed(nginx, forked, Patched);
        var listed = Shell.Graft("list", "--all").Stdout.Split('\n');
        Assert.All(forked, worker => Assert.Contains("'nginx-http-time' patched", listed.Single(l => l.StartsWith($"process {worker} ", StringComparison.Ordinal))));

        var revert = Shell.Graft("revert", "--all", "nginx-http-time");

        Assert.True(revert.ExitCode == 0, revert.Stdout + revert.Stderr);
        var lines = revert.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(new[] { nginx.MasterPid }.Concat(forked), pid => Assert.Contains(lines, l => l.StartsWith($"process {pid} (nginx): reverted", StringComparison.Ordinal)));
        Assert.Equal("revert 'nginx-http-time': 3 process(es): 3 reverted", lines[^1].Split(';')[0]);
        AssertServed(nginx, forked, NginxServer.FileTime);
    }

    /// <summary>Every response carries <paramref name="lastModified"/>, and every one of <paramref name="workers"/> served some.</summary>
    private static void AssertServed(NginxServer nginx, IReadOnlySet<int> workers, string lastModified)
    {
        var responses = nginx.Serve(40);
        Assert.All(responses, r => Assert.Equal(lastModified, r.LastModified));
        Assert.Equal(workers.Order(), responses.Select(r => r.Worker).Distinct().Order());
    }
}
