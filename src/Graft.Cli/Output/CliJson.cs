using System.Text.Json.Serialization;
using Graft.Core.Patches;
using Graft.Core.State;

namespace Graft.Cli.Output;

/// <summary>The documents the commands print with --json.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(PatchDefinition))]
[JsonSerializable(typeof(TargetState))]
[JsonSerializable(typeof(OperationOutput))]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary>The result of apply or revert: what changed, and how long the threads were held.</summary>
internal sealed record OperationOutput(string Patch, int Pid, string Operation, int Attempts, double LongestStopMilliseconds, IReadOnlyList<PatchedFunction> Functions);
