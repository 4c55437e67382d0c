namespace Graft.Core;

/// <summary>
/// The kernel livepatch's notice texts (kernel/livepatch/core.c and transition.c), so that an
/// operator recognises them and a test can compare a whole log with an expected one.
/// </summary>
public static class Notices
{
    public static string Enabling(string patch) => $"enabling patch '{patch}'";

    public static string Initializing(string patch, bool patching) => $"'{patch}': initializing {Mode(patching)} transition";

    public static string Starting(string patch, bool patching) => $"'{patch}': starting {Mode(patching)} transition";

    public static string Completing(string patch, bool patching) => $"'{patch}': completing {Mode(patching)} transition";

    public static string Complete(string patch, bool patching) => $"'{patch}': {Mode(patching)} complete";

    public static string Reversing(string patch, bool toPatching) =>
        $"'{patch}': reversing transition from {Mode(!toPatching)} to {Mode(toPatching)}";

    public static string Forcing(bool patching) => $"forcing remaining threads to the {(patching ? "patched" : "unpatched")} state";

    private static string Mode(bool patching) => patching ? "patching" : "unpatching";
}
