using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.Cli.Commands;

/// <summary>
/// graft list --all: every patched process of this host. Only processes whose memory map names
/// graft's state mapping are read (through /proc/&lt;pid&gt;/mem, as graft list reads one): none is
/// stopped, and one without graft state costs a read of its map. With graftd running, the patches
/// enabled host-wide come first (graft enable).
/// </summary>
internal static class HostList
{
    public static int Print(bool json)
    {
        var enabled = HostWideList.TryRead();
        var scan = HostTargets.WithState();
        var patched = new List<ProcessState>();
        foreach (var process in scan.Processes)
        {
            try
            {
                var state = Patcher.List(process.Pid);
                if (state.Patches.Count > 0 || state.Disabled.Count > 0)
                {
                    patched.Add(new ProcessState(process.Pid, process.Command, state));
                }
            }
            catch (GraftException e) when (e.Failure == GraftFailure.TargetGone)
            {
                // Exited since the scan: nothing of it to list.
            }
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new HostListOutput(patched, scan.Unreadable, enabled), CliJson.Default.HostListOutput));
            return 0;
        }

        foreach (var patch in enabled ?? [])
        {
            Console.WriteLine($"host-wide: '{Escaped.Line(patch.Name)}' enabled for build-id {string.Join(", ", patch.BuildIds)}" +
                $"{(patch.Object is null ? "" : $" ({Escaped.Line(patch.Object)})")}, since {patch.EnabledAt:u}");
        }

        // One line per patch and process, whole, so that grep and cut find a patch and its pid.
        foreach (var (pid, command, state) in patched)
        {
            var who = $"process {pid} ({Escaped.Line(command)})";
            foreach (var patch in state.Patches)
            {
                Console.WriteLine($"{who}: '{Escaped.Line(patch.Name)}' {patch.Phase.ToString().ToLowerInvariant()}, {patch.Functions.Count} function(s), applied {patch.AppliedAt:u}");
            }

            foreach (var disabled in state.Disabled)
            {
                Console.WriteLine($"{who}: '{Escaped.Line(disabled.Name)}' reverted, image still loaded");
            }
        }

        Console.WriteLine($"{patched.Count} process(es) with patches" +
            (scan.Unreadable > 0 ? $"; {scan.Unreadable} process(es) not inspected (this user may not read their memory maps)" : ""));
        return 0;
    }
}
