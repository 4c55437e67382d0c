using System.Buffers.Binary;
using System.Text;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Tests.Support;

namespace Graft.Patching.Tests.Target;

public sealed class StateStoreTests
{
    private const ulong MappingAddress = 0x7f00_0040_0000;
    private const ulong RecordRegion = 0x7f00_4000_0000;

    // The start of each half of the record region, enough for the records written here.
    private const int HalfWindow = 64 << 10;

    private readonly MemoryImage image = new();
    private readonly byte[] mapping;
    private readonly byte[][] halves;

    public StateStoreTests()
    {
        mapping = image.Map(MappingAddress, (int)StateLayout.Size);
        halves = [.. Enumerable.Range(0, 2).Select(half => image.Map(RecordRegion + ((ulong)half * StateLayout.HalfSize), HalfWindow))];
    }

    [Fact]
    public void ARecordWrittenIsReadBackAsItselfByTheNextGraft()
    {
        // What EnsureMapped leaves: the magic, a commit word of 0 (no record), the record region's address.
        WriteHeader();
        var store = Store();
        Assert.Empty(store.Read().Patches);

        var written = SampleState();
        store.Write(StateLayout.Serialize(written));

        var read = Store().Read();
        // Records compare their lists by reference: compare what each serializes to.
        Assert.Equal(StateLayout.Serialize(written), StateLayout.Serialize(read));
        Assert.Equal("demo", Assert.Single(read.Patches).Name);
    }

    [Fact]
    public void EachWriteGoesToTheIdleHalfAndThenFlipsTheCommitWordToIt()
    {
        WriteHeader();
        var store = Store();
        store.Read();
        var first = StateLayout.Serialize(SampleState());
        var second = StateLayout.Serialize(TargetState.Empty);

        store.Write(first);
        Assert.Equal(StateLayout.EncodeCommit(first.Length, half: 1, generation: 1), CommitWord());
        store.Write(second);

        // The second record is in half 0, the first still whole in half 1: a graft killed before
        // the commit word flipped would have left the first one in force.
        Assert.Equal(StateLayout.EncodeCommit(second.Length, half: 0, generation: 2), CommitWord());
        Assert.Equal(second, halves[0].AsSpan(0, second.Length).ToArray());
        Assert.Equal(first, halves[1].AsSpan(0, first.Length).ToArray());
        Assert.Empty(Store().Read().Patches);
    }

    [Fact]
    public void ATargetWithoutAMappingHasTheEmptyStateAndNothingIsRead()
    {
        var store = new StateStore(() => 0, new MemoryImage());

        Assert.Same(TargetState.Empty, store.Read());
        Assert.Equal(0UL, store.Address);
    }

    [Fact]
    public void AMappingWithoutTheMagicHoldsNoRecord()
    {
        Assert.Same(TargetState.Empty, Store().Read());
    }

    [Theory]
    [InlineData("GRAFTST2")]
    [InlineData("GRAFTST3")]
    public void TheMappingOfAnOlderGraftIsRefused(string magic)
    {
        Encoding.ASCII.GetBytes(magic).CopyTo(mapping, 0);

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains($"older graft ({magic})", refused.Message);
    }

    /// <summary>
    /// A process patched by the graft before keeps its 4 MiB GRAFTST4 mapping, with the record's halves inside it: the
    /// record is read and written there, within that mapping's limit, so the process is still served.
    /// </summary>
    [Fact]
    public void TheRecordOfAGraftst4MappingIsReadAndWrittenInsideIt()
    {
        var old = new MemoryImage();
        var inMapping = old.Map(MappingAddress, 4 << 20);
        var written = StateLayout.Serialize(SampleState());
        "GRAFTST4"u8.CopyTo(inMapping);
        written.CopyTo(inMapping, (int)StateLayout.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(inMapping.AsSpan((int)StateLayout.CommitWordOffset), StateLayout.EncodeCommit(written.Length, 0, 3));
        var store = new StateStore(() => MappingAddress, old);

        Assert.Equal("demo", Assert.Single(store.Read().Patches).Name);
        store.Write(StateLayout.Serialize(TargetState.Empty));
        Assert.Empty(new StateStore(() => MappingAddress, old).Read().Patches);
        var secondHalf = (int)(StateLayout.Size + StateLayout.InMappingHalfSize);
        Assert.Equal((byte)'{', inMapping[secondHalf]);

        var patch = SampleState().Patches[0];
        var tooLarge = StateLayout.Serialize(SampleState() with
        {
            Patches = [.. Enumerable.Range(0, 3000).Select(n => patch with { Name = $"demo-{n}" })],
        });
        var refused = Assert.Throws<StateFormatException>(() => store.Write(tooLarge));
        Assert.Contains("GRAFTST4", refused.Message);
        Assert.Empty(new StateStore(() => MappingAddress, old).Read().Patches);
    }

    [Fact]
    public void ARecordFarLargerThanTheStateMappingIsWrittenAndReadBack()
    {
        // GRAFTST4 kept its records in the 4 MiB mapping itself, about 1.9 MB a half: a fourth
        // 1,000-function patch stacked did not fit. The region's halves are 256 MiB.
        var rest = Enumerable.Range(0, 2).Select(half => image.Map(RecordRegion + ((ulong)half * StateLayout.HalfSize) + HalfWindow, 8 << 20)).ToArray();
        WriteHeader();
        var store = Store();
        store.Read();
        var patch = SampleState().Patches[0];
        var state = SampleState() with
        {
            Patches = [.. Enumerable.Range(0, 6000).Select(n => patch with { Name = $"demo-{n}", Path = $"/opt/patches/demo-{n}.so" })],
        };
        var record = StateLayout.Serialize(state);
        Assert.True(record.Length > 4 << 20, $"the record is {record.Length} bytes");

        store.Write(record);
        store.Write(record);

        Assert.Equal(StateLayout.EncodeCommit(record.Length, half: 0, generation: 2), CommitWord());
        Assert.Equal(6000, Store().Read().Patches.Count);
        Assert.Equal(record.AsSpan(HalfWindow, 1000).ToArray(), rest[0].AsSpan(0, 1000).ToArray());
        Assert.Equal(record.AsSpan(HalfWindow, 1000).ToArray(), rest[1].AsSpan(0, 1000).ToArray());
    }

    [Fact]
    public void ARecordOfAnotherVersionIsRefused()
    {
        // Half 0 holds a record of version 2; the commit word says: its length, half 0, generation 5.
        var record = StateLayout.Serialize(SampleState() with { Version = 2 });
        WriteHeader();
        record.CopyTo(halves[0], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(mapping.AsSpan((int)StateLayout.CommitWordOffset), StateLayout.EncodeCommit(record.Length, 0, 5));

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains("version 2 is not 3", refused.Message);
    }

    [Fact]
    public void ADamagedRecordIsRefused()
    {
        var record = Encoding.UTF8.GetBytes("{\"version\":3,\"patches\":[");
        WriteHeader();
        record.CopyTo(halves[1], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(mapping.AsSpan((int)StateLayout.CommitWordOffset), StateLayout.EncodeCommit(record.Length, 1, 1));

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains("damaged", refused.Message);
    }

    private StateStore Store() => new(() => MappingAddress, image);

    private void WriteHeader()
    {
        "GRAFTST5"u8.CopyTo(mapping);
        BinaryPrimitives.WriteUInt64LittleEndian(mapping.AsSpan((int)StateLayout.RecordRegionOffset), RecordRegion);
    }

    private ulong CommitWord() => BinaryPrimitives.ReadUInt64LittleEndian(mapping.AsSpan((int)StateLayout.CommitWordOffset));

    private static TargetState SampleState() => TargetState.Empty with
    {
        Patches =
        [
            new AppliedPatch(
                PatchPhase.Patched, "demo", "/opt/patches/demo.so", "8f2c", 0x5555_5556_0000, 0x7f00_1000_0000, 0x7f00_1000_4000,
                new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
                [
                    new PatchedFunction("compute", 0, "/usr/bin/demo", 0x5555_5555_1140, 0x40, 0x5555_5555_1144, "554889e5c3", 0x5555_5000_0000, 0x7f00_1000_1100)
                    {
                        NewSize = 0x30,
                        Entry = new EntryPath(false, "the replacement changes no register the original keeps", "", 0),
                    },
                ],
                [new PatchedObject(null, "/usr/bin/demo", "4e1a") { PrePatchDone = true, PostPatchDone = true }]),
        ],
        SlotPages = [new SlotPage(0x5555_5000_0000, 0x1000, "/usr/bin/demo")],
    };
}
