using Graft.Linux.Seccomp;

namespace Graft.IntegrationTests.Seccomp;

/// <summary>The classic BPF evaluator on filters written out instruction by instruction; no process involved.</summary>
public sealed class SeccompFilterTests
{
    // Opcodes (<linux/filter.h>) and return values (<linux/seccomp.h>) the filters below use.
    private const ushort LdAbs = 0x20, LdLen = 0x80, LdxLen = 0x81, LdImm = 0x00, LdxImm = 0x01, LdMem = 0x60, St = 0x02, Tax = 0x07;
    private const ushort AluAndK = 0x54, AluAddX = 0x0c, AluDivX = 0x3c, AluNeg = 0x84;
    private const ushort Ja = 0x05, JeqK = 0x15, JgeK = 0x35, JgtX = 0x2d, JsetK = 0x45, RetK = 0x06, RetA = 0x16;
    private const uint KillProcess = 0x80000000, KillThread = 0, Trap = 0x00030000, Errno = 0x00050000, Allow = 0x7fff0000, Log = 0x7ffc0000;
    private const uint OffsetNr = 0, OffsetArch = 4, OffsetIpLow = 8, OffsetArg2Low = 32, OffsetArg0High = 20;
    private const int Read = 0, Mmap = 9, Memfd = 319;

    private static SockFilter I(ushort code, uint k, byte jt = 0, byte jf = 0) => new(code, jt, jf, k);

    private static SeccompData Call(int nr, params ulong[] args) => new(nr, args);

    /// <summary>The usual shape: kill other architectures, kill <paramref name="nr"/> with <paramref name="action"/>, allow the rest.</summary>
    private static SeccompFilter Denying(int nr, uint action) => new(
    [
        I(LdAbs, OffsetArch),
        I(JeqK, SeccompData.AUDIT_ARCH_X86_64, jt: 1),
        I(RetK, KillProcess),
        I(LdAbs, OffsetNr),
        I(JeqK, (uint)nr, jf: 1),
        I(RetK, action),
        I(RetK, Allow),
    ]);

    [Fact]
    public void DeniedCallGetsItsActionOthersAreAllowed()
    {
        var filter = Denying(Mmap, KillProcess);

        Assert.Equal(SeccompAction.KillProcess, filter.Run(Call(Mmap)).Action);
        Assert.Equal("SECCOMP_RET_KILL_PROCESS", filter.Run(Call(Mmap)).ActionName);
        Assert.Equal(SeccompAction.Allow, filter.Run(Call(Read)).Action);
        Assert.True(filter.Run(Call(Read)).Runs);
        Assert.Equal(SeccompAction.KillProcess, filter.Run(Call(Read) with { Arch = 0x40000003 }).Action);
    }

    [Fact]
    public void ArgumentsAreReadAsTwoLittleEndianHalves()
    {
        // EPERM for mmap with PROT_EXEC (args[2] bit 2), or with args[0] above 4 GiB.
        var filter = new SeccompFilter(
        [
            I(LdAbs, OffsetNr),
            I(JeqK, Mmap, jf: 5),
            I(LdAbs, OffsetArg2Low),
            I(JsetK, 4, jt: 2),
            I(LdAbs, OffsetArg0High),
            I(JeqK, 0, jt: 1),
            I(RetK, Errno | 1),
            I(RetK, Allow),
        ]);

        var exec = filter.Run(Call(Mmap, 0, 4096, 5));
        Assert.Equal(SeccompAction.Errno, exec.Action);
        Assert.Equal(1, exec.Data);
        Assert.True(filter.Run(Call(Mmap, 0, 4096, 3)).Runs);
        Assert.False(filter.Run(Call(Mmap, 0x7f0000000000, 4096, 3)).Runs);
        Assert.True(filter.Run(Call(Mmap, 0xffff_f000, 4096, 3)).Runs);
    }

    [Fact]
    public void SeveralFiltersGiveTheMostRestrictiveActionAndOfEqualOnesTheNewest()
    {
        static SeccompFilter Always(uint value) => new([I(RetK, value)]);

        // Oldest first, as PTRACE_SECCOMP_GET_FILTER numbers them.
        IReadOnlyList<SeccompFilter> filters = [Always(Errno | 1), Denying(Mmap, Trap), Always(Errno | 13), Always(Log)];

        Assert.Equal(new SeccompResult(Trap), SeccompFilter.Run(filters, Call(Mmap)));
        Assert.Equal(new SeccompResult(Errno | 13), SeccompFilter.Run(filters, Call(Read)));
        Assert.Equal(SeccompAction.KillProcess, SeccompFilter.Run([Always(KillThread), Always(KillProcess)], Call(Read)).Action);
        Assert.Equal(SeccompAction.Log, SeccompFilter.Run([Always(Allow), Always(Log)], Call(Read)).Action);
        Assert.Equal(SeccompAction.Allow, SeccompFilter.Run([], Call(Read)).Action);
    }

    [Fact]
    public void UnknownActionKillsTheProcess()
    {
        Assert.Equal(SeccompAction.KillProcess, new SeccompResult(0x00010000).Action);
    }

    [Fact]
    public void ScratchMemoryIndexRegisterAndArithmetic()
    {
        // A = 64 - (nr & 0xff) by way of M[3], NEG and X = sizeof(struct seccomp_data): ENOSYS
        // unless nr & 0xff <= 4; then A = len, X = 63, and A > X returns A itself (64).
        var filter = new SeccompFilter(
        [
            I(LdAbs, OffsetNr),
            I(AluAndK, 0xff),
            I(St, 3),
            I(LdImm, 0),
            I(LdMem, 3),
            I(AluNeg, 0),
            I(LdxLen, 0),
            I(AluAddX, 0),                  // A = 64 - (nr & 0xff)
            I(JgeK, 60, jt: 1),             // nr & 0xff <= 4: allow
            I(RetK, Errno | 38),
            I(LdLen, 0),
            I(Tax, 0),
            I(LdxImm, 63),
            I(JgtX, 0, jt: 1),              // 64 > 63: jump over the kill
            I(RetK, KillProcess),
            I(RetA, 0),                     // returns A = 64: SECCOMP_RET_KILL_THREAD with data 64
        ]);

        Assert.Equal(new SeccompResult(64), filter.Run(Call(3)));
        Assert.Equal(new SeccompResult(Errno | 38), filter.Run(Call(Mmap)));
    }

    [Fact]
    public void DivisionByZeroEndsTheProgramWithZero()
    {
        var filter = new SeccompFilter([I(LdImm, 10), I(LdxImm, 0), I(AluDivX, 0), I(RetK, Allow)]);

        Assert.Equal(SeccompAction.KillThread, filter.Run(Call(Read)).Action);
    }

    [Fact]
    public void JumpAlwaysSkipsItsOffset()
    {
        var filter = new SeccompFilter([I(Ja, 1), I(RetK, KillProcess), I(RetK, Allow)]);

        Assert.True(filter.Run(Call(Read)).Runs);
    }

    [Fact]
    public void SkippedCallPassesLibseccompsX32CheckToTheDefaultAction()
    {
        // As libseccomp generates it: nr >= 0x40000000 is an x32 call, killed, except -1.
        var filter = new SeccompFilter(
        [
            I(LdAbs, OffsetNr),
            I(JgeK, 0x40000000, jf: 2),
            I(JeqK, 0xffffffff, jt: 1),
            I(RetK, KillProcess),
            I(JeqK, Memfd, jf: 1),
            I(RetK, Allow),
            I(RetK, Errno | 1),
        ]);

        Assert.Equal(new SeccompResult(Errno | 1), filter.Run(Call(-1)));
        Assert.Equal(SeccompAction.KillProcess, filter.Run(Call(0x40000000 + Mmap)).Action);
        Assert.True(filter.Run(Call(Memfd)).Runs);
    }

    [Theory]
    [InlineData((ushort)0x28, "opcode 0x0028")]                  // BPF_LD|BPF_H|BPF_ABS: no half-word loads in seccomp
    [InlineData((ushort)0x94, "opcode 0x0094")]                  // BPF_ALU|BPF_MOD|BPF_K: not allowed in filters
    [InlineData((ushort)0x0e, "opcode 0x000e")]                  // BPF_RET|BPF_X
    public void OpcodeFiltersCannotUseIsNotEvaluated(ushort code, string reason)
    {
        var filter = new SeccompFilter([I(code, 0), I(RetK, Allow)]);

        Assert.Contains(reason, Assert.Throws<SeccompEvaluationException>(() => filter.Run(Call(Read))).Message);
    }

    [Fact]
    public void InstructionPointerIsReadOnlyWhenKnown()
    {
        var filter = new SeccompFilter([I(LdAbs, OffsetIpLow), I(JeqK, 0x1000, jt: 1), I(RetK, KillProcess), I(RetK, Allow)]);

        Assert.Contains("instruction pointer", Assert.Throws<SeccompEvaluationException>(() => filter.Run(Call(Read))).Message);
        Assert.True(filter.Run(Call(Read) with { InstructionPointer = 0x1000 }).Runs);
    }

    [Fact]
    public void ProgramThatRunsOffItsEndIsNotEvaluated()
    {
        var filter = new SeccompFilter([I(LdAbs, OffsetNr), I(JeqK, Read, jt: 5), I(RetK, Allow)]);

        Assert.Throws<SeccompEvaluationException>(() => filter.Run(Call(Read)));
    }

    [Fact]
    public void ParsesStructSockFilterArrays()
    {
        byte[] bytes =
        [
            0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // ld [0]            (nr)
            0x15, 0x00, 0x00, 0x01, 0x3f, 0x01, 0x00, 0x00,   // jeq #319, 0, 1    (memfd_create)
            0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,   // ret #KILL_PROCESS
            0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f,   // ret #ALLOW
        ];

        var filter = SeccompFilter.Parse(bytes);

        Assert.Equal(I(JeqK, Memfd, jf: 1), filter.Instructions[1]);
        Assert.Equal(SeccompAction.KillProcess, filter.Run(Call(Memfd)).Action);
        Assert.True(filter.Run(Call(Mmap)).Runs);
    }
}
