namespace Graft.Model.Patches;

/// <summary>A file that is not a usable graft patch; the message says why in one line.</summary>
public sealed class PatchFormatException(string message) : Exception(message);
