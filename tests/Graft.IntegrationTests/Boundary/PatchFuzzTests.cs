using System.Diagnostics;
using Graft.IntegrationTests.Support;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Operations;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// A thousand mutants of a good patch: each is refused in one line, or applies and reverts
/// cleanly; none hangs, kills the target or leaves anything mapped in it.
/// </summary>
[Trait(Traits.Category, Traits.Stress)]
public sealed class PatchFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 13_1000;
    private const int Mutants = 1000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // Attaching, settling after the operation and detaching come on top of the operation's own timeout.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);
    private readonly string directory = Directory.CreateTempSubdirectory("graft-patch-fuzz-").FullName;

    [Fact]
    public void MutatedPatchesAreRefusedInOneLineOrApplyAndRevertCleanly()
    {
        var mutator = new PatchMutator(File.ReadAllBytes(Repository.Patch("describe_new")), Seed);
        var counter = StartWithAgent();
        var before = TargetText.Read(counter.Pid);
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            for (var index = 0; index < Mutants; index++)
            {
                var (bytes, description) = mutator.Next();
                var path = Path.Combine(directory, $"mutant-{index}.so");
                File.WriteAllBytes(path, bytes);
                var (outcome, failure) = Feed(counter, path);
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                if (failure is null && !counter.IsAlive)
                {
                    failure = "the target died";
                }
                else if (failure is null && outcome != "refused at parse" && Leftover(before, counter.Pid) is { } left)
                {
                    failure = $"left mapped: {left}";
                }

                if (failure is not null)
                {
                    failures.Add($"seed {Seed} mutant {index} ({description}): {failure}");

                    // A fresh target, so that a crash or an image left behind does not hide the next finding.
                    counter.Dispose();
                    counter = StartWithAgent();
                    before = TargetText.Read(counter.Pid);
                }
            }

            output.WriteLine($"{string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}: {o.Value}"))} in {clock.Elapsed}");
            Assert.True(failures.Count == 0, $"{failures.Count} of {Mutants} mutants failed:\n{string.Join('\n', failures)}");
            before.AssertCodeUnchanged(counter.Pid);
            Assert.Equal(WithoutState(before.Maps), WithoutState(TargetText.Read(counter.Pid).Maps));
            Ticks.Next(counter, 2, "old");
        }
        finally
        {
            counter.Dispose();
        }
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>
    /// counter, after the good patch was applied, reverted and unloaded: graft's agent thread,
    /// which the first completed apply starts and which stays with its stack and arena, is
    /// there before the first mutant, so what a mutant leaves is all that differs.
    /// </summary>
    private static RunningFixture StartWithAgent()
    {
        var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();
        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout);
        patcher.Revert(counter.Pid, "describe-new", Timeout);
        patcher.Unload(counter.Pid, "describe-new");
        return counter;
    }

    /// <summary>
    /// A patch that was applied and reverted leaves graft's state mapping in place (it records the
    /// patches a later graft must know about); every other mapping must be as before.
    /// </summary>
    private static List<string> WithoutState(IEnumerable<string> maps) =>
        [.. maps.Where(l => !l.Contains($"/memfd:{StateLayout.MappingName}", StringComparison.Ordinal))];

    private static string? Leftover(TargetText before, int pid)
    {
        var added = WithoutState(File.ReadAllLines($"/proc/{pid}/maps")).Except(before.Maps).ToList();
        return added.Count == 0 ? null : string.Join(" | ", added);
    }

    /// <summary>Applies one mutant; the outcome's kind, and what was wrong with it if anything.</summary>
    private static (string Outcome, string? Failure) Feed(RunningFixture counter, string path)
    {
        try
        {
            Patcher.ReadPatch(path);
        }
        catch (GraftException e)
        {
            return ("refused at parse", Refusal(e));
        }
        catch (Exception e)
        {
            return ("crashed graft", $"{e.GetType().Name} escaped parsing: {e}");
        }

        var patcher = new NoticeLog().NewPatcher();
        var clock = Stopwatch.StartNew();
        try
        {
            var name = patcher.Apply(counter.Pid, path, Timeout).PatchName;
            var failure = Slow("apply", clock);
            clock.Restart();
            patcher.Revert(counter.Pid, name, Timeout);
            patcher.Unload(counter.Pid, name);
            failure ??= Slow("revert and unload", clock);
            Ticks.Next(counter, 2, "old");
            return ("applied", failure);
        }
        catch (GraftException e)
        {
            return ("refused later", Refusal(e) ?? Slow("refusal", clock));
        }
        catch (Exception e)
        {
            return ("crashed graft", $"{e.GetType().Name} escaped: {e}");
        }
    }

    private static string? Refusal(GraftException e) =>
        e.Failure != GraftFailure.Refused ? $"failed with {e.Failure} ({(int)e.Failure}): {e.Message}"
        : e.Message.Any(char.IsControl) ? $"refused with control characters in the message: {e.Message.ReplaceLineEndings("\\n")}"
        : null;

    private static string? Slow(string what, Stopwatch clock) =>
        clock.Elapsed > Timeout + Margin ? $"{what} took {clock.Elapsed.TotalSeconds:F1} s" : null;
}
