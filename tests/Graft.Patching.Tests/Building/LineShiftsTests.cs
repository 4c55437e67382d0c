using Graft.Patching.Building.FromDiff;

namespace Graft.Patching.Tests.Building;

public sealed class LineShiftsTests
{
    // Two hunks of one file: 10-12 is context around a changed line 11 (two lines for one); 30 gets a line after it.
    private const string TwoHunks = """
        --- a/src/cluster.c
        +++ b/src/cluster.c
        @@ -10,3 +10,4 @@ int clusterProcessPacket(clusterLink *link) {
             context
        -    old
        +    new
        +    newer
             context
        @@ -30,0 +32,1 @@
        +    added after line 30
        """;

    [Theory]
    [InlineData(5, 5)]    // above every hunk: stays
    [InlineData(10, 10)]  // context: moves with its hunk
    [InlineData(12, 13)]
    [InlineData(20, 21)]  // between the hunks: one line added above
    [InlineData(30, 31)]  // the line the second hunk adds after
    [InlineData(31, 33)]
    public void ALineTheDiffLeavesAloneMovesByWhatIsAddedAboveIt(int original, int patched)
    {
        Assert.Equal(patched, LineShifts.Parse(TwoHunks).Where("src/cluster.c", original));
    }

    [Fact]
    public void AChangedLineGoesAndAnotherFileStays()
    {
        var shifts = LineShifts.Parse(TwoHunks);

        Assert.Null(shifts.Where("src/cluster.c", 11));
        Assert.Equal(40, shifts.Where("src/server.c", 40));
    }

    [Fact]
    public void AFilePatchedTwiceMovesThroughBothDiffsInOrder()
    {
        const string second = """
            --- a/src/cluster.c
            +++ b/src/cluster.c
            @@ -1,1 +1,2 @@
            +/* a line at the top */
             first
            """;

        var shifts = LineShifts.Parse(TwoHunks + "\n" + second);

        Assert.Equal(22, shifts.Where("src/cluster.c", 20));
        Assert.True(shifts.Moves(20, 22, "cluster.c"));
        Assert.False(shifts.Moves(20, 21, "cluster.c"));
        Assert.False(shifts.Moves(11, 12, "cluster.c"));
    }

    /// <summary>A __LINE__ names a line of the file compiled, or of a header it includes: not of another .c file.</summary>
    [Fact]
    public void ALineMovesOnlyInTheObjectsOwnSourceFileOrInAHeader()
    {
        const string header = """
            --- a/src/server.h
            +++ b/src/server.h
            @@ -1,1 +1,3 @@
            +#define ADDED 1
            +#define ALSO_ADDED 2
             first
            """;

        var shifts = LineShifts.Parse(TwoHunks + "\n" + header);

        Assert.True(shifts.Moves(20, 21, "cluster.c"));
        Assert.False(shifts.Moves(20, 21, "replication.c"));
        Assert.True(shifts.Moves(20, 22, "replication.c"));
    }

    [Fact]
    public void AnAddedLineThatLooksLikeAFileHeaderStaysInItsHunk()
    {
        const string diff = """
            --- a/notes.c
            +++ b/notes.c
            @@ -1,1 +1,2 @@
            +++ b/added
             kept
            """;

        Assert.Equal(2, LineShifts.Parse(diff).Where("notes.c", 1));
    }
}
