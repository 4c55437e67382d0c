using System.Buffers.Binary;
using System.Text;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Tests.Support;

namespace Graft.Patching.Tests.Target;

public sealed class StateStoreTests
{
    private const ulong MappingAddress = 0x7f00_0040_0000;

    private readonly MemoryImage image = new();
    private readonly byte[] mapping;

    public StateStoreTests() => mapping = image.Map(MappingAddress, (int)StateLayout.Size);

    [Fact]
    public void ARecordWrittenIsReadBackAsItselfByTheNextGraft()
    {
        // What EnsureMapped leaves: the magic, and a commit word of 0 (no record).
        "GRAFTST4"u8.CopyTo(mapping);
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
        "GRAFTST4"u8.CopyTo(mapping);
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
        Assert.Equal(second, mapping.AsSpan((int)StateLayout.HalfOffset(0), second.Length).ToArray());
        Assert.Equal(first, mapping.AsSpan((int)StateLayout.HalfOffset(1), first.Length).ToArray());
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

    [Fact]
    public void TheMappingOfAnOlderGraftIsRefused()
    {
        "GRAFTST2"u8.CopyTo(mapping);

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains("older graft (GRAFTST2)", refused.Message);
    }

    [Fact]
    public void ARecordOfAnotherVersionIsRefused()
    {
        // Half 0 holds a record of version 2; the commit word says: its length, half 0, generation 5.
        var record = StateLayout.Serialize(SampleState() with { Version = 2 });
        "GRAFTST4"u8.CopyTo(mapping);
        record.CopyTo(mapping, (int)StateLayout.HalfOffset(0));
        BinaryPrimitives.WriteUInt64LittleEndian(mapping.AsSpan((int)StateLayout.CommitWordOffset), StateLayout.EncodeCommit(record.Length, 0, 5));

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains("version 2 is not 3", refused.Message);
    }

    [Fact]
    public void ADamagedRecordIsRefused()
    {
        var record = Encoding.UTF8.GetBytes("{\"version\":3,\"patches\":[");
        "GRAFTST4"u8.CopyTo(mapping);
        record.CopyTo(mapping, (int)StateLayout.HalfOffset(1));
        BinaryPrimitives.WriteUInt64LittleEndian(mapping.AsSpan((int)StateLayout.CommitWordOffset), StateLayout.EncodeCommit(record.Length, 1, 1));

        var refused = Assert.Throws<StateFormatException>(() => Store().Read());

        Assert.Contains("damaged", refused.Message);
    }

    private StateStore Store() => new(() => MappingAddress, image);

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
