namespace Graft.Model;

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

    /// <summary>klp_module_coming.</summary>
    public static string ApplyingToLoading(string patch, string module) => $"applying patch '{patch}' to loading module '{module}'";

    /// <summary>klp_cleanup_module_patches_limited, from klp_module_going (and from a refused coming).</summary>
    public static string RevertingOnUnloading(string patch, string module) => $"reverting patch '{patch}' on unloading module '{module}'";

    public static string PrePatchFailed(string obj) => $"pre-patch callback failed for object '{obj}'";

    /// <summary>__klp_enable_patch, after a failed pre_patch.</summary>
    public static string EnableFailed(string patch) => $"failed to enable patch '{patch}'";

    /// <summary>klp_cancel_transition.</summary>
    public static string Canceling(string patch) => $"'{patch}': canceling transition, going to unpatch";

    /// <summary>
    /// The kernel refuses to load the module; a process's dlopen cannot be refused from outside,
    /// so the library stays loaded and no patch touches it (see ARCHITECTURE, "Libraries that come and go").
    /// </summary>
    public static string RefusingModule(string patch, string module, string reason) =>
        $"patch '{patch}' failed for module '{module}' ({reason}), leaving module '{module}' loaded without any patch";

    private static string Mode(bool patching) => patching ? "patching" : "unpatching";
}
