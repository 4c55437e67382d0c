using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>gettid(2): the kernel's id of the calling thread, which is what /proc shows as a tracer's id.</summary>
internal static partial class Threads
{
    [LibraryImport(LibC.Name, EntryPoint = "gettid")]
    public static partial int gettid();
}
