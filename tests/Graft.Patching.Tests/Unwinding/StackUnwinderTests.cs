using System.Buffers.Binary;
using Graft.Elf;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Unwinding;
using Graft.Patching.Tests.Support;

namespace Graft.Patching.Tests.Unwinding;

/// <summary>
/// Unwinds a stack laid out by hand in a byte image, through the .eh_frame gcc wrote for
/// Fixtures/stack.c: outer calls middle, which calls leaf, which sits in sched_yield.
/// </summary>
public sealed class StackUnwinderTests : IClassFixture<StackLibrary>
{
    // Where the library is placed, and where the thread's stack pointer is in leaf.
    private const ulong Base = 0x7f3c_1000_0000;
    private const ulong StackPointer = 0x7ffd_4000_0f00;
    private const ulong SavedRbx = 0x1111_2222_3333_4444;

    private readonly MemoryImage image = new();
    private readonly LoadedModule module;
    private readonly ulong leaf;
    private readonly ulong middle;
    private readonly ulong outer;

    private readonly StackLibrary library;

    public StackUnwinderTests(StackLibrary library)
    {
        this.library = library;
        var elf = ElfFile.Load(library.FilePath);
        List<MemoryMapping> mappings = [];
        foreach (var segment in elf.Segments.Where(s => s.Type == ElfSegmentType.Load))
        {
            var bytes = new byte[segment.MemorySize];
            Assert.True(elf.TryReadAtAddress(segment.VirtualAddress, bytes));
            image.Map(Base + segment.VirtualAddress, bytes);
            mappings.Add(new MemoryMapping(
                Base + (segment.VirtualAddress & ~0xfffUL), Base + ((segment.VirtualAddress + segment.MemorySize + 0xfff) & ~0xfffUL),
                Permissions(segment.Flags), segment.Offset & ~0xfffUL, 1, library.FilePath));
        }

        module = new LoadedModule(library.FilePath, isMainExecutable: false, mappings, () => elf);
        leaf = Symbol(elf, "leaf");
        middle = Symbol(elf, "middle");
        outer = Symbol(elf, "outer");

        // The code the stack below relies on; another compiler's code would need another stack.
        Assert.Equal([0xb8, 0x18, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3], Code(leaf, 8)); // mov eax,24; syscall; ret
        Assert.Equal([0x53, 0x48, 0x89, 0xfb, 0xe8], Code(middle, 5)); // push rbx; mov rbx,rdi; call leaf@plt (returns to middle+9)
        Assert.Equal([0x31, 0xed, 0xe8], Code(outer, 3)); // xor ebp,ebp; call middle@plt (returns to outer+7)
    }

    [Fact]
    public void FindsEveryFrameDownToWhereTheTablesEndTheStack()
    {
        MapStack(returnToOuter: outer + 7);

        var stack = Unwind();

        Assert.True(stack.IsReliable, stack.ToString());
        Assert.Equal(3, stack.Frames.Count);
        // In leaf: the pc is past the syscall; the thread executes the syscall itself. leaf has no frame: CFA = rsp+8.
        Assert.Equal(new StackFrame(leaf + 7, leaf + 5, StackPointer + 8, module, IsExact: true), stack.Frames[0]);
        // In middle, after its push of rbx: CFA = rsp+16.
        Assert.Equal(new StackFrame(middle + 9, middle + 8, StackPointer + 24, module, IsExact: false), stack.Frames[1]);
        // In outer, whose rules leave the return address undefined: the end of the stack.
        Assert.Equal(new StackFrame(outer + 7, outer + 6, StackPointer + 32, module, IsExact: false), stack.Frames[2]);
        Assert.Equal(["leaf+0x5", "middle+0x8", "outer+0x6"], stack.Frames.Select(f => module.Describe(f.CallSite)));
    }

    [Fact]
    public void AReturnAddressOutsideEveryObjectMakesTheStackUnreliable()
    {
        MapStack(returnToOuter: 0xdead_0000);

        var stack = Unwind();

        Assert.Equal("0xdead0000 is not in any mapped object", stack.UnreliableReason);
        Assert.Equal([leaf + 7, middle + 9, 0xdead_0000], stack.Frames.Select(f => f.Pc));
        Assert.Null(stack.Frames[^1].Module);
    }

    [Fact]
    public void AStackCutShortByUnmappedMemoryIsUnreliable()
    {
        // Only leaf's return address is there; middle's saved rbx would be at rsp+8.
        var stack = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(stack, middle + 9);
        image.Map(StackPointer, stack);

        var unwound = Unwind();

        Assert.StartsWith("cannot restore registers of middle+0x8: cannot read 8 bytes at 0x7ffd40000f08", unwound.UnreliableReason);
        Assert.Equal(2, unwound.Frames.Count);
    }

    /// <summary>
    /// Stopped at popped's syscall (a vfork about to run, or restarted), its return address in rdi: popped has not moved
    /// the stack pointer, and its caller's is the same. The stack is reliable (it was "stack pointer does not grow").
    /// </summary>
    [Fact]
    public void AFrameWhoseReturnAddressIsInARegisterMayLeaveTheStackPointerWhereItWas()
    {
        var popped = Symbol(ElfFile.Load(library.FilePath), "popped");
        Assert.Equal([0x5f, 0xb8, 0x18, 0x00, 0x00, 0x00, 0x0f, 0x05], Code(popped, 8)); // pop rdi; mov eax,24; syscall
        MapStack(returnToOuter: outer + 7);

        var stack = new StackUnwinder(new ModuleMap([module], module.Mappings), image)
            .Unwind(4243, new UserRegs { rip = popped + 6, rsp = StackPointer + 8, rdi = middle + 9, orig_rax = ulong.MaxValue });

        Assert.True(stack.IsReliable, stack.ToString());
        Assert.Equal([popped + 6, middle + 9, outer + 7], stack.Frames.Select(f => f.Pc));
        Assert.Equal(StackPointer + 8, stack.Frames[0].Cfa);
    }

    /// <summary>
    /// The thread's stack from leaf's stack pointer up:
    /// <code>
    ///   rsp+0   return address into middle (middle+9), pushed by its call
    ///   rsp+8   outer's rbx, pushed by middle
    ///   rsp+16  return address into outer, pushed by its call
    ///   rsp+24  above outer's return address slot: where its caller's stack would be (outer's CFA is rsp+32)
    /// </code>
    /// </summary>
    private void MapStack(ulong returnToOuter)
    {
        var stack = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(stack.AsSpan(0), middle + 9);
        BinaryPrimitives.WriteUInt64LittleEndian(stack.AsSpan(8), SavedRbx);
        BinaryPrimitives.WriteUInt64LittleEndian(stack.AsSpan(16), returnToOuter);
        image.Map(StackPointer, stack);
    }

    /// <summary>The thread as ptrace shows it stopped in sched_yield: rip past the syscall, orig_rax the call's number.</summary>
    private ThreadStack Unwind() => new StackUnwinder(new ModuleMap([module], module.Mappings), image)
        .Unwind(4243, new UserRegs { rip = leaf + 7, rsp = StackPointer, orig_rax = 24 });

    private byte[] Code(ulong address, int length)
    {
        var bytes = new byte[length];
        image.Read(address, bytes);
        return bytes;
    }

    /// <summary>As /proc/&lt;pid&gt;/maps writes them.</summary>
    private static string Permissions(ElfSegmentFlags flags) =>
        $"{((flags & ElfSegmentFlags.Read) != 0 ? 'r' : '-')}{((flags & ElfSegmentFlags.Write) != 0 ? 'w' : '-')}{((flags & ElfSegmentFlags.Execute) != 0 ? 'x' : '-')}p";

    private static ulong Symbol(ElfFile elf, string name) => Base + elf.Symbols.Single(s => s.Name == name).Value;
}
