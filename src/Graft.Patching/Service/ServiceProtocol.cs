using System.Text.Json.Serialization;

namespace Graft.Patching.Service;

/// <summary>
/// What the graft command asks graftd, one JSON line on its socket: the operation and its
/// options, as the command line gave them. <paramref name="Object"/>: the file graft enable --object named.
/// </summary>
public sealed record ServiceRequest(string Command, int Pid, string? Patch = null, string? Name = null, double TimeoutSeconds = 15,
    ConsistencyModel Model = ConsistencyModel.PerThread, bool Force = false, string? Object = null);

/// <summary>
/// What graftd answers, one JSON line each: notices and snapshots of the transition while the operation
/// runs, then one line with the outcome (a failure's kind and message, or the report; the host-wide list
/// for enable, disable and enabled). A graft that does not know a field ignores it.
/// </summary>
public sealed record ServiceReply(string? Notice = null, GraftFailure? Failure = null, string? Error = null, OperationReport? Report = null,
    TransitionProgress? Progress = null, bool Done = false, int? Unloaded = null, IReadOnlyList<EnabledPatch>? Enabled = null,
    TransitionSnapshot? Snapshot = null);

/// <summary>
/// A patch enabled host-wide (graft enable): graftd's copy of its file, the object --object named
/// if any, the build-ids of the objects it is for (what the exec hook looks for), its SHA-256, and when.
/// <paramref name="LoadableBuildIds"/>: those of <paramref name="BuildIds"/> that a process which does not
/// map them may load later and then need the patch for (HostTargets.LoadableBuildIdsOf; null in a list
/// written before graftd recorded them);
/// <paramref name="Signer"/>: whose signature graftd verified on it, or "unsigned", for the audit trail.
/// </summary>
public sealed record EnabledPatch(string Name, string File, string? Object, IReadOnlyList<string> BuildIds, string Sha256, DateTimeOffset EnabledAt,
    IReadOnlyList<string>? LoadableBuildIds = null, string? Signer = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServiceRequest))]
[JsonSerializable(typeof(ServiceReply))]
[JsonSerializable(typeof(List<EnabledPatch>))]
public sealed partial class ServiceJson : JsonSerializerContext;

/// <summary>Where graftd listens: $GRAFTD_SOCKET, else /run/graft/graftd.sock.</summary>
public static class ServiceSocket
{
    public const string DefaultPath = "/run/graft/graftd.sock";

    public static string Path => Environment.GetEnvironmentVariable("GRAFTD_SOCKET") is { Length: > 0 } path ? path : DefaultPath;

    /// <summary>Said where graft needed graftd and none answered: the socket tried, and the variable that names another.</summary>
    public static string NoneAnswers(string? why = null) =>
        $"no graftd answers at {Path}{(why is null ? "" : $" ({why})")}; GRAFTD_SOCKET names graftd's socket (default {DefaultPath})";
}
