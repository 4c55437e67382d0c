namespace Graft.Linux.Interop;

/// <summary>The name every P/Invoke in this folder binds to.</summary>
internal static class LibC
{
    public const string Name = "libc";
}
