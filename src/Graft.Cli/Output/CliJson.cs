using System.Text.Json.Serialization;
using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Building.FromDiff;
using Graft.Patching.Contract;
using Graft.Patching.Service;

namespace Graft.Cli.Output;

/// <summary>The documents the commands print with --json.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(PatchDefinition))]
[JsonSerializable(typeof(TargetState))]
[JsonSerializable(typeof(OperationOutput))]
[JsonSerializable(typeof(HostOutput))]
[JsonSerializable(typeof(HostListOutput))]
[JsonSerializable(typeof(StatusOutput))]
[JsonSerializable(typeof(ObjectSurveyReport))]
[JsonSerializable(typeof(DiffBuildReport))]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary>
/// The result of apply, revert or continue: what changed, how the threads were held, and the transition if it is still in flight;
/// for apply, the patch file's SHA-256 and whose signature graft verified on it (null: unsigned).
/// </summary>
internal sealed record OperationOutput(
    string Patch,
    int Pid,
    string Operation,
    ConsistencyModel Consistency,
    string Transition,
    int Attempts,
    double LongestStopMilliseconds,
    string? LongestStopKind,
    int MostStoppedAtOnce,
    int ThreadsMoved,
    int SelfSwitched,
    int SwitchedAsleep,
    double? ConvergenceMilliseconds,
    int TrapsHandled,
    IReadOnlyList<StopsOutput> Stops,
    IReadOnlyList<PatchedFunction> Functions,
    TransitionProgress? InFlight,
    IReadOnlyList<string> Warnings,
    string? Sha256,
    PatchSigner? Signer);

/// <summary>The stops of one kind over the whole command (sweep, stop-world, load, callback, trap ...): how many, and the longest.</summary>
internal sealed record StopsOutput(string Kind, int Count, double LongestMilliseconds);

/// <summary>graft status: the transition in flight, null when there is none, and the libraries patches failed for as they loaded.</summary>
internal sealed record StatusOutput(int Pid, TransitionProgress? Transition, IReadOnlyList<RefusedLibrary> Refused);

/// <summary>A library left without any patch because <see cref="Patch"/> failed for it as it loaded.</summary>
internal sealed record RefusedLibrary(string Patch, string Object, string Reason);

/// <summary>apply --all, revert --all: every process reached, and how many ended as asked.</summary>
internal sealed record HostOutput(string Operation, string Patch, IReadOnlyList<ProcessOutput> Processes, int Succeeded, int Failed, int NotInspected, bool Interrupted);

/// <summary>One process of an operation on many: its outcome (applied, reverted, already applied, exited, in flight, failed), its own exit code and the report or the error.</summary>
internal sealed record ProcessOutput(int Pid, string Command, string Outcome, int ExitCode, string? Error, OperationOutput? Report);

/// <summary>list --all: every process of the host whose record holds patches (applied, or reverted with their image still loaded); the host-wide list when graftd answers.</summary>
internal sealed record HostListOutput(IReadOnlyList<ProcessState> Processes, int NotInspected, IReadOnlyList<EnabledPatch>? Enabled);

/// <summary>One patched process and its record.</summary>
internal sealed record ProcessState(int Pid, string Command, TargetState State);
