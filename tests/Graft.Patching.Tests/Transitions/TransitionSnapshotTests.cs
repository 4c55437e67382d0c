namespace Graft.Patching.Tests.Transitions;

/// <summary>The text of the live line graft draws on a terminal while a transition runs.</summary>
public sealed class TransitionSnapshotTests
{
    private static readonly TimeSpan Elapsed = TimeSpan.FromSeconds(1.5);

    [Fact]
    public void APerThreadSnapshotSaysThreadsSwitchedOfTotalTheStuckOnesWhatHoldsOneAndTheTimeLeft()
    {
        var snapshot = new TransitionSnapshot("slow-path", Patching: true, ConsistencyModel.PerThread, Threads: 3, Switched: 2, Stuck: 1,
            HeldBy: "thread 4242 is running slow_path (#1 slow_path+0x1a)", Left: TimeSpan.FromSeconds(13.5));

        Assert.Equal("patching 'slow-path': 2 of 3 threads switched, 1 stuck (thread 4242 is running slow_path (#1 slow_path+0x1a)); 1.5 s elapsed, 13.5 s left",
            snapshot.Describe(Elapsed, TimeSpan.FromSeconds(13.5)));
    }

    [Fact]
    public void AStopWorldUnpatchingSaysSoAndATimeoutPassedLeavesNoTime()
    {
        var snapshot = new TransitionSnapshot("slow-path", Patching: false, ConsistencyModel.StopWorld, Threads: 4, Switched: 0, Stuck: 2,
            HeldBy: "thread 17 is running fixed_slow_path", Left: TimeSpan.Zero);

        Assert.Equal("unpatching 'slow-path' (stop-world): 0 of 4 threads switched, 2 stuck (thread 17 is running fixed_slow_path); 1.5 s elapsed, 0.0 s left",
            snapshot.Describe(Elapsed, TimeSpan.FromSeconds(-0.2)));
    }

    [Fact]
    public void NoThreadStuckSaysNothingOfStuckThreads()
    {
        var snapshot = new TransitionSnapshot("fix", Patching: true, ConsistencyModel.PerThread, Threads: 5, Switched: 5, Stuck: 0, HeldBy: null, Left: TimeSpan.FromSeconds(2));

        Assert.Equal("patching 'fix': 5 of 5 threads switched; 1.5 s elapsed, 2.0 s left", snapshot.Describe(Elapsed, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void ALineTooWideCutsWhatHoldsTheThreadFirstAndKeepsTheCountsAndTimes()
    {
        var snapshot = new TransitionSnapshot("slow-path", Patching: true, ConsistencyModel.PerThread, Threads: 3, Switched: 2, Stuck: 1,
            HeldBy: "thread 4242 is running slow_path (0x5618fe3d74e3 slow_path+0x12 (blocker))", Left: TimeSpan.FromSeconds(13.5));

        var line = snapshot.Describe(Elapsed, TimeSpan.FromSeconds(13.5), width: 100);

        Assert.Equal("patching 'slow-path': 2 of 3 threads switched, 1 stuck (thread 4242 ...); 1.5 s elapsed, 13.5 s left", line);
        Assert.Equal(100, line.Length);
    }

    [Fact]
    public void ALineWithNoRoomForWhatHoldsTheThreadLeavesItOutAndOneNarrowerStillIsCut()
    {
        var snapshot = new TransitionSnapshot("slow-path", Patching: true, ConsistencyModel.PerThread, Threads: 3, Switched: 2, Stuck: 1,
            HeldBy: "thread 4242 is running slow_path", Left: TimeSpan.FromSeconds(13.5));

        Assert.Equal("patching 'slow-path': 2 of 3 threads switched, 1 stuck; 1.5 s elapsed, 13.5 s left",
            snapshot.Describe(Elapsed, TimeSpan.FromSeconds(13.5), width: 90));
        Assert.Equal("patching 'slow-path': 2 of 3 thre...", snapshot.Describe(Elapsed, TimeSpan.FromSeconds(13.5), width: 36));
    }
}
