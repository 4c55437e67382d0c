namespace Graft.Model.State;

/// <summary>The state record in a target cannot be read by this graft.</summary>
public sealed class StateFormatException(string message) : Exception(message);
