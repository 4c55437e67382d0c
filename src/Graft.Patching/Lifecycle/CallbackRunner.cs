using System.Runtime.InteropServices;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transitions;

namespace Graft.Patching.Lifecycle;

/// <summary>
/// Runs a patch's (un)patch callbacks inside the target, object by object in the patch's order,
/// as injected calls on a thread <see cref="CallerThread"/> picked because it holds no lock of the
/// C library: a callback may call malloc or take the program's locks while every other thread
/// keeps running and releases what it holds. Each stage keeps the kernel's symmetry through
/// the objects' flags (see <see cref="PatchedObject"/>) and returns the patch with them updated.
/// A library's coming and going handlers pass the thread that is loading or unloading it
/// (<paramref name="loaderThread"/>), as the kernel runs them in the task loading the module:
/// it holds the loader's lock, which another thread would wait for. Each call ends by
/// <paramref name="deadline"/>: one still running then is cut short, its thread put back as it
/// was before the call, as any injected call past its time limit.
/// </summary>
internal sealed class CallbackRunner(TargetProcess target, StateStore store, Deadline deadline, int? loaderThread = null)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// klp_pre_patch_callback for every loaded object until one fails, or is cut short by the
    /// deadline. An object whose pre_patch succeeded (or that has none) owes a post_unpatch from
    /// then on.
    /// </summary>
    public (AppliedPatch Patch, PrePatchFailure? Failure) PrePatch(AppliedPatch patch)
    {
        var objects = patch.Objects.ToList();
        PrePatchFailure? failure = null;
        Run(patch, o => o.Callbacks.PrePatch, tid =>
        {
            for (var i = 0; i < objects.Count && failure is null; i++)
            {
                if (!objects[i].IsLoaded)
                {
                    continue;
                }

                int result;
                try
                {
                    result = objects[i].Callbacks.PrePatch == 0 ? 0 : (int)Call(tid, objects[i].Callbacks.PrePatch, objects[i].Descriptor);
                }
                catch (GraftException e) when (e.Failure == GraftFailure.Timeout)
                {
                    failure = new PrePatchFailure(objects[i].DisplayName, 0, 0, e);
                    break;
                }

                if (result != 0)
                {
                    failure = new PrePatchFailure(objects[i].DisplayName, result, result == -1 ? Errno(tid) : -result);
                    break;
                }

                objects[i] = objects[i] with { PrePatchDone = true };
            }
        });
        return (patch with { Objects = objects }, failure);
    }

    /// <summary>klp_post_patch_callback, once the patch is in force on every thread; pre_unpatch is owed from then on.</summary>
    public AppliedPatch PostPatch(AppliedPatch patch) =>
        RunEach(patch, o => o.Callbacks.PostPatch, o => true, o => o with { PostPatchDone = true });

    /// <summary>klp_pre_unpatch_callback, before an unpatching transition: only where post_patch ran.</summary>
    public AppliedPatch PreUnpatch(AppliedPatch patch) =>
        RunEach(patch, o => o.Callbacks.PreUnpatch, o => o.PostPatchDone, o => o with { PostPatchDone = false });

    /// <summary>klp_post_unpatch_callback, once no thread runs the patch: only where pre_patch ran.</summary>
    public AppliedPatch PostUnpatch(AppliedPatch patch) =>
        RunEach(patch, o => o.Callbacks.PostUnpatch, o => o.PrePatchDone, o => o with { PrePatchDone = false, PostPatchDone = false });

    private AppliedPatch RunEach(AppliedPatch patch, Func<PatchedObject, ulong> callback, Func<PatchedObject, bool> owed, Func<PatchedObject, PatchedObject> after)
    {
        var objects = patch.Objects.ToList();
        Run(patch, callback, tid =>
        {
            for (var i = 0; i < objects.Count; i++)
            {
                if (!objects[i].IsLoaded || !owed(objects[i]))
                {
                    continue;
                }

                if (callback(objects[i]) != 0)
                {
                    Call(tid, callback(objects[i]), objects[i].Descriptor);
                }

                objects[i] = after(objects[i]);
            }
        });
        return patch with { Objects = objects };
    }

    /// <summary>Acquires a call thread only when some loaded object has the callback at all.</summary>
    private void Run(AppliedPatch patch, Func<PatchedObject, ulong> callback, Action<int> calls)
    {
        if (!patch.Objects.Any(o => o.IsLoaded && callback(o) != 0))
        {
            calls(0);
            return;
        }

        if (loaderThread is { } loading)
        {
            calls(loading);
            return;
        }

        using var caller = CallerThread.Acquire(target, deadline, StopPurposes.Callback);
        calls(caller.Tid);
    }

    private ulong Call(int tid, ulong function, ulong argument)
    {
        if (!deadline.HasPassed)
        {
            try
            {
                return target.Call(tid, store.Trampoline, function, deadline.Bound(CallTimeout), argument);
            }
            catch (Linux.Tracing.InjectionException e) when (e.TimedOut && deadline.HasPassed)
            {
                throw TimedOut(e);
            }
        }

        throw TimedOut(null);
    }

    private GraftException TimedOut(Exception? cause) => new(GraftFailure.Timeout,
        $"process {target.Pid}: a callback was still running when the timeout passed; its thread was put back as it was before the call, and the operation was rolled back", cause);

    /// <summary>errno of the calling thread, for a callback that returned -1 the C library's way.</summary>
    private int Errno(int tid)
    {
        var location = Call(tid, CLibrary.Function(target, "__errno_location"), 0);
        return (int)target.Memory.ReadUInt64(location);
    }
}

/// <summary>A pre_patch callback's refusal: the object, what it returned, and the errno that means; or its <see cref="Timeout"/>, cut short.</summary>
internal sealed record PrePatchFailure(string Object, int Result, int Errno, GraftException? Timeout = null)
{
    public string Describe() => Errno > 0
        ? $"{Result} ({Linux.Interop.Errno.Name(Errno)}: {Marshal.GetPInvokeErrorMessage(Errno)})"
        : $"{Result}";
}
