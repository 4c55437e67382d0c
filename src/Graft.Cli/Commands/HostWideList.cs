using Graft.Patching;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>The host-wide patch list (graft enable, disable, list --all): graftd keeps it, so these ask graftd.</summary>
internal static class HostWideList
{
    /// <summary>Sends <paramref name="request"/> to graftd; without graftd, one error that says where it was looked for.</summary>
    public static IReadOnlyList<EnabledPatch> Ask(ServiceRequest request)
    {
        Operation.RequirePrivilege(request.Command);
        using var service = ServiceClient.TryConnect(ServiceSocket.Path, out var unreachable)
            ?? throw new GraftException(GraftFailure.Refused, $"graftd keeps the host-wide patch list: {ServiceSocket.NoneAnswers(unreachable)}");
        return service.Run(request, _ => { }, progress: null, CancellationToken.None).Enabled ?? [];
    }

    /// <summary>The list, or null when no graftd answers (graft list --all then shows processes only).</summary>
    public static IReadOnlyList<EnabledPatch>? TryRead()
    {
        using var service = ServiceClient.TryConnect(ServiceSocket.Path, out _);
        if (service is null)
        {
            return null;
        }

        return service.Run(new ServiceRequest("enabled", 0), _ => { }, progress: null, CancellationToken.None).Enabled ?? [];
    }
}
