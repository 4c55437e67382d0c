using System.Text.Json.Serialization;

namespace Graft.Model.State;

/// <summary>Source-generated JSON for the state record (no reflection, so the CLI can be published ahead of time).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false, UseStringEnumConverter = true)]
[JsonSerializable(typeof(TargetState))]
public sealed partial class TargetStateJson : JsonSerializerContext;
