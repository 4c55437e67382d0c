using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Graft.Model.State;

/// <summary>
/// The layout of what Graft keeps in a target: the state mapping (a memfd named "graft-state")
/// <code>
///   0      magic "GRAFTST5" ("GRAFTST4" held the record in a 4 MiB mapping, "GRAFTST3" had a
///          smaller thread table, "GRAFTST2" was 1 MiB)
///   8      commit word: bits 0-31 record length, bit 32 which half holds it, bits 33-63 generation
///   16     address of the record region
///   4096   code page, read and execute only: where injected calls return (the return trampoline);
///          at 4160 the SIGTRAP handler that outlives graftd's int3 on r_brk; at 4352 graftd's
///          loader stub, which r_brk jumps to (Graft.Linux's LoaderStub)
///   8192   scratch page (strings passed to injected calls)
///   12288  the per-thread table of the transition in flight and its blocked ranges, read by the slots' dispatchers
/// </code>
/// and the record region, an anonymous mapping of 512 MiB with no access at all (PROT_NONE):
/// half 0 | half 1, each a JSON record, written to the idle half before the commit word flips to
/// it, so a graft killed half-way leaves the previous record intact. Graft reads and writes the
/// region through /proc/&lt;pid&gt;/mem, which reaches pages the process itself may not touch.
/// A "GRAFTST4" mapping, the same up to the thread table, is 4 MiB with the halves inside it
/// from <see cref="Size"/> on: graft still reads and writes it there, so that processes patched
/// by the graft before keep being served.
/// </summary>
public static class StateLayout
{
    public const string MappingName = "graft-state";
    public const ulong CommitWordOffset = 8;
    public const ulong RecordRegionOffset = 16;
    public const int HeaderSize = 24;
    public const ulong CodeOffset = 4096;
    public const ulong LoaderTrapHandlerOffset = CodeOffset + 64;
    public const ulong LoaderStubOffset = CodeOffset + 256;
    public const ulong PageSize = 4096;
    public const ulong ScratchOffset = 8192;
    public const int ScratchSize = 4096;
    public const ulong ThreadTableOffset = 12288;
    public const ulong ThreadTableSize = 299008;
    public const ulong Size = ThreadTableOffset + ThreadTableSize;

    // The record is not what limits a user: a 1,000-function patch in transition records about
    // 550 KB, so a half of 256 MiB holds hundreds of them stacked. The region costs the target
    // address space only: PROT_NONE with MAP_NORESERVE is charged to no commit limit, and a page
    // becomes memory only once Graft writes it.
    public const ulong HalfSize = 256 << 20;
    public const ulong RecordRegionSize = 2 * HalfSize;

    // GRAFTST4: the record's halves inside a 4 MiB state mapping, from Size on.
    public const ulong InMappingHalfSize = ((4 << 20) - Size) / 2;

    public static ReadOnlySpan<byte> Magic => "GRAFTST5"u8;

    public static ReadOnlySpan<byte> InMappingMagic => "GRAFTST4"u8;

    public static ulong EncodeCommit(int length, int half, ulong generation) =>
        (uint)length | ((ulong)(half & 1) << 32) | (generation << 33);

    public static (int Length, int Half, ulong Generation) DecodeCommit(ulong word) =>
        ((int)(uint)word, (int)((word >> 32) & 1), word >> 33);

    public static byte[] Serialize(TargetState state)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, TargetStateJson.Default.TargetState);
        return (ulong)bytes.Length <= HalfSize
            ? bytes
            : throw new StateFormatException($"graft's state record would grow to {bytes.Length} bytes, over its {HalfSize}-byte limit");
    }

    public static TargetState Deserialize(ReadOnlySpan<byte> record)
    {
        try
        {
            var state = JsonSerializer.Deserialize(record, TargetStateJson.Default.TargetState);
            return state is { Version: TargetState.CurrentVersion }
                ? state
                : throw new StateFormatException($"graft state record version {state?.Version} is not {TargetState.CurrentVersion}; use the graft that wrote it");
        }
        catch (JsonException e)
        {
            throw new StateFormatException($"graft state record is damaged: {e.Message} ({Encoding.UTF8.GetString(record[..Math.Min(80, record.Length)])}...)");
        }
    }

    public static bool HasMagic(ReadOnlySpan<byte> header) => header.Length >= 8 && header[..8].SequenceEqual(Magic);

    /// <summary>A GRAFTST4 mapping: the record is inside it (<see cref="InMappingHalfSize"/>).</summary>
    public static bool HasRecordInMapping(ReadOnlySpan<byte> header) => header.Length >= 8 && header[..8].SequenceEqual(InMappingMagic);

    /// <summary>The state mapping of an older graft, whose layout this one does not read.</summary>
    public static bool HasOlderMagic(ReadOnlySpan<byte> header) =>
        header.Length >= 8 && header[..7].SequenceEqual("GRAFTST"u8) && !HasMagic(header) && !HasRecordInMapping(header);

    public static ulong ReadCommit(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt64LittleEndian(header[8..16]);

    public static ulong ReadRecordRegion(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt64LittleEndian(header[16..24]);
}
