using Graft.X86.Tests.Native;

using static Graft.X86.ThreadTableLayout;
using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests;

/// <summary>
/// Runs the dispatcher natively on the test's own thread, a glibc thread whose pointer sits at <c>%fs:0</c>.
/// The old target returns a + b and the new one a + 2b, so the result tells both which way the stub went and that
/// the arguments arrived.
/// </summary>
public sealed unsafe class DispatcherExecutionTests : IDisposable
{
    private const int A = 3;
    private const int B = 4;
    private const int OldResult = A + B;
    private const int NewResult = A + (2 * B);

    private readonly DispatcherRig _rig = new(
        oldTarget: assembler =>
        {
            assembler.lea(eax, __[rdi + rsi]);
            assembler.ret();
        },
        newTarget: assembler =>
        {
            assembler.lea(eax, __[rdi + (rsi * 2)]);
            assembler.ret();
        });

    public void Dispose()
    {
        _rig.Dispose();
    }

    [Theory]
    [InlineData(OldUniverse, OldResult)]
    [InlineData(NewUniverse, NewResult)]
    public void AThreadTheTableDoesNotKnowGoesWhereTheHeaderSays(byte defaultUniverse, int expected)
    {
        _rig.SetDefaultUniverse(defaultUniverse);

        Assert.Equal(expected, CallStub());
    }

    [Theory]
    [InlineData(NewUniverse, OldUniverse, NewResult)]
    [InlineData(OldUniverse, NewUniverse, OldResult)]
    public void AThreadsOwnEntryWinsOverTheHeader(byte entryUniverse, byte defaultUniverse, int expected)
    {
        _rig.SetDefaultUniverse(defaultUniverse);
        _rig.SetEntry(HomeIndex(_rig.CurrentThreadPointer()), _rig.CurrentThreadPointer(), entryUniverse);

        Assert.Equal(expected, CallStub());
    }

    [Theory]
    [InlineData(NewUniverse, NewResult)]
    [InlineData(OldUniverse, OldResult)]
    public void TheProbeStepsOverOtherThreadsEntriesAfterTheHomeIndex(byte entryUniverse, int expected)
    {
        ulong threadPointer = _rig.CurrentThreadPointer();
        byte otherUniverse = (byte)(entryUniverse ^ 1);
        _rig.SetDefaultUniverse(otherUniverse);
        int[] probe = [.. ProbeSequence(threadPointer).Take(4)];
        for (int step = 0; step < 3; step++)
        {
            _rig.SetEntry(probe[step], OtherThreadPointer(threadPointer, step), otherUniverse);
        }

        _rig.SetEntry(probe[3], threadPointer, entryUniverse);

        Assert.Equal(expected, CallStub());
    }

    [Fact]
    public void TheProbeWrapsFromTheLastEntryToTheFirst()
    {
        Assert.Equal(NewResult, OnThreadWithNonZeroHome(threadPointer =>
        {
            _rig.SetDefaultUniverse(OldUniverse);
            FillFromHomeToLastEntry(threadPointer);
            _rig.SetEntry(0, threadPointer, NewUniverse);
            return CallStub();
        }));
    }

    [Fact]
    public void AnEmptyEntryAfterTheWrapMeansTheThreadIsUnknown()
    {
        Assert.Equal(NewResult, OnThreadWithNonZeroHome(threadPointer =>
        {
            _rig.SetDefaultUniverse(NewUniverse);
            FillFromHomeToLastEntry(threadPointer);
            return CallStub();
        }));
    }

    private int CallStub()
    {
        return ((delegate* unmanaged<int, int, int>)_rig.Stub)(A, B);
    }

    // Entries of other threads, in the old universe, so that a stub that took one of them for ours would go the wrong way.
    private void FillFromHomeToLastEntry(ulong threadPointer)
    {
        for (int index = HomeIndex(threadPointer); index < Capacity; index++)
        {
            _rig.SetEntry(index, OtherThreadPointer(threadPointer, index), OldUniverse);
        }
    }

    private static ulong OtherThreadPointer(ulong threadPointer, int step)
    {
        return threadPointer + (0x1000UL * (ulong)(step + 1));
    }

    // A probe that starts at entry 0 never wraps. One thread in 4096 has that home index; another thread then has another.
    private T OnThreadWithNonZeroHome<T>(Func<ulong, T> test)
    {
        const int Attempts = 4;
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            T result = default!;
            bool ran = false;
            var thread = new Thread(() =>
            {
                ulong threadPointer = _rig.CurrentThreadPointer();
                if (HomeIndex(threadPointer) != 0)
                {
                    result = test(threadPointer);
                    ran = true;
                }
            });
            thread.Start();
            thread.Join();
            if (ran)
            {
                return result;
            }
        }

        throw new InvalidOperationException($"{Attempts} threads in a row had home index 0");
    }
}
