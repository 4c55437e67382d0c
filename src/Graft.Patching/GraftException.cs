namespace Graft.Patching;

/// <summary>Why an operation did not happen, in one line for the operator, with the exit code the CLI returns.</summary>
public sealed class GraftException(GraftFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public GraftFailure Failure { get; } = failure;
}

/// <summary>The kinds of failure, which are also the CLI's exit codes.</summary>
public enum GraftFailure
{
    /// <summary>Graft itself failed; the message says where.</summary>
    Internal = 1,

    /// <summary>The patch does not fit the target (build-id, symbols, function shape, already applied ...); nothing was changed.</summary>
    Refused = 2,

    /// <summary>No safe moment came before the timeout; everything was rolled back.</summary>
    Timeout = 3,

    /// <summary>The process does not exist or exited during the operation.</summary>
    TargetGone = 4,

    /// <summary>The process cannot be traced by this user, or is traced by someone else.</summary>
    NotPermitted = 5,

    /// <summary>The operator interrupted graft (SIGINT, SIGTERM, SIGHUP) while it waited; everything was rolled back.</summary>
    Interrupted = 6,

    // 7 is not a failure: the CLI's "transition still in flight".

    /// <summary>A pre_patch callback of the patch returned an error; nothing stays patched.</summary>
    PrePatchFailed = 8,

    /// <summary>A thread of the target got a fatal signal while Graft was attached: the process died.</summary>
    TargetCrashed = 9,
}
