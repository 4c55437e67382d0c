using System.Reflection;
using System.Runtime.InteropServices;
using Graft.IntegrationTests.Support;
using Graft.Linux.Interop;
using Graft.Model.Patches;

namespace Graft.IntegrationTests.Layout;

/// <summary>
/// The struct layouts Graft mirrors in C#, checked against gcc compiling the C headers:
/// &lt;sys/user.h&gt; for ptrace's registers, &lt;sys/uio.h&gt; for PTRACE_GETREGSET's iovec, &lt;sys/ioctl.h&gt; and
/// &lt;poll.h&gt; for the terminal's size and poll, graft.h for the patch descriptor that PatchFile reads.
/// </summary>
public sealed class StructLayoutTests : IClassFixture<StructLayoutTests.CompiledLayout>
{
    private const int PointerSize = 8;
    private readonly CLayout c;

    public StructLayoutTests(CompiledLayout compiled) => c = compiled.Layout;

    /// <summary>The structs of Graft.Linux's Interop, each the C struct of the same name (user_regs_struct: UserRegs).</summary>
    [Theory]
    [InlineData(typeof(UserRegs), "user_regs_struct")]
    [InlineData(typeof(iovec), "iovec")]
    [InlineData(typeof(Ioctl.winsize), "winsize")]
    [InlineData(typeof(Poll.pollfd), "pollfd")]
    public void InteropStructHasEveryFieldOfItsCStructAtItsOffset(Type managedStruct, string structName)
    {
        var fields = c.FieldsOf(structName);

        // layout.c names the members by hand: they must tile the whole struct, so none is missing.
        Assert.Equal(0, fields[0].Offset);
        Assert.All(fields.Zip(fields.Skip(1)), pair => Assert.Equal(pair.First.Offset + pair.First.Size, pair.Second.Offset));
        Assert.Equal(c.SizeOf(structName), fields[^1].Offset + fields[^1].Size);

        var managed = managedStruct.GetFields(BindingFlags.Public | BindingFlags.Instance);
        Assert.Equal(fields.Select(field => field.Name), managed.Select(field => field.Name));
        Assert.Equal(c.SizeOf(structName), Marshal.SizeOf(managedStruct));
        Assert.All(managed, field =>
        {
            Assert.Equal(c.Field(structName, field.Name).Offset, (int)Marshal.OffsetOf(managedStruct, field.Name));
            Assert.Equal(c.Field(structName, field.Name).Size, Marshal.SizeOf(field.FieldType));
        });
    }

    [Fact]
    public void InteropConstantsAreTheHeadersValues()
    {
        Assert.Equal(Ioctl.TIOCGWINSZ, c.Define("TIOCGWINSZ"));
        Assert.Equal(Poll.POLLOUT, c.Define("POLLOUT"));
    }

    /// <summary>
    /// The offsets PatchFile reads the descriptor at (its constants are private, so they are
    /// repeated here): every member is read as one 8-byte pointer or unsigned long.
    /// </summary>
    [Theory]
    [InlineData("graft_patch", "name", 0)]
    [InlineData("graft_patch", "objs", 8)]
    [InlineData("graft_object", "name", 0)]
    [InlineData("graft_object", "funcs", 8)]
    [InlineData("graft_object", "build_id", 16)]
    [InlineData("graft_callbacks", "pre_patch", 0)]
    [InlineData("graft_callbacks", "post_patch", 8)]
    [InlineData("graft_callbacks", "pre_unpatch", 16)]
    [InlineData("graft_callbacks", "post_unpatch", 24)]
    [InlineData("graft_func", "old_name", 0)]
    [InlineData("graft_func", "new_func", 8)]
    [InlineData("graft_func", "old_sympos", 16)]
    [InlineData("graft_local_sym", "name", 0)]
    [InlineData("graft_local_sym", "object", 8)]
    [InlineData("graft_local_sym", "sympos", 16)]
    public void PatchFileReadsGraftHMembersWhereGccPutsThem(string structName, string member, int offsetPatchFileReads)
    {
        Assert.Equal(new CField(member, offsetPatchFileReads, PointerSize), c.Field(structName, member));
    }

    /// <summary>The members PatchFile reads that are not one pointer: the replace flag (one byte) and the callbacks (four pointers).</summary>
    [Theory]
    [InlineData("graft_patch", "replace", 16, 1)]
    [InlineData("graft_object", "callbacks", 24, 4 * PointerSize)]
    public void PatchFileReadsGraftHAggregatesWhereGccPutsThem(string structName, string member, int offsetPatchFileReads, int size)
    {
        Assert.Equal(new CField(member, offsetPatchFileReads, size), c.Field(structName, member));
    }

    /// <summary>PatchFile steps through the object, function and local-symbol arrays by these sizes.</summary>
    [Theory]
    [InlineData("graft_object", 56)]
    [InlineData("graft_func", 24)]
    [InlineData("graft_local_sym", 24)]
    public void PatchFileStepsThroughGraftHArraysByTheirSize(string structName, int sizePatchFileUses)
    {
        Assert.Equal(sizePatchFileUses, c.SizeOf(structName));
    }

    [Fact]
    public void PatchFileReadsTheAbiVersionOfGraftH()
    {
        Assert.Equal(PatchFile.AbiVersion, (uint)c.Define("GRAFT_ABI_VERSION"));
    }

    /// <summary>layout.c, compiled and run once for all the tests of the class.</summary>
    public sealed class CompiledLayout : IDisposable
    {
        private readonly CProgram program = CProgram.Compile("Layout/layout.c", "-Wall", "-Werror", "-I", Path.Combine(Repository.Runtime, "include"));

        public CompiledLayout() => Layout = CLayout.Parse(program.Run());

        internal CLayout Layout { get; }

        public void Dispose() => program.Dispose();
    }
}
