namespace Graft.Elf.Tests.Support;

internal static class SystemFiles
{
    public const string Libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    public const string DynamicLinker = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
    public const string Ls = "/usr/bin/ls";
    public const string True = "/usr/bin/true";
}
