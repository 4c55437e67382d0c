namespace Graft.Linux.Seccomp;

/// <summary>
/// A seccomp filter as the kernel keeps it for PTRACE_SECCOMP_GET_FILTER: the classic BPF
/// program the process installed. <see cref="Run"/> interprets exactly the instructions the
/// kernel accepts in a filter (seccomp_check_filter); anything else cannot be evaluated.
/// </summary>
public sealed class SeccompFilter(IReadOnlyList<SockFilter> instructions)
{
    /// <summary>BPF_MAXINSNS: the longest program the kernel accepts.</summary>
    public const int MaxInstructions = 4096;

    // <linux/bpf_common.h>, <linux/filter.h>.
    private const int BPF_LD = 0x00, BPF_LDX = 0x01, BPF_ST = 0x02, BPF_STX = 0x03, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_RET = 0x06, BPF_MISC = 0x07;
    private const int BPF_W = 0x00, BPF_IMM = 0x00, BPF_ABS = 0x20, BPF_MEM = 0x60, BPF_LEN = 0x80;
    private const int BPF_ADD = 0x00, BPF_SUB = 0x10, BPF_MUL = 0x20, BPF_DIV = 0x30, BPF_OR = 0x40, BPF_AND = 0x50;
    private const int BPF_LSH = 0x60, BPF_RSH = 0x70, BPF_NEG = 0x80, BPF_XOR = 0xa0;
    private const int BPF_JA = 0x00, BPF_JEQ = 0x10, BPF_JGT = 0x20, BPF_JGE = 0x30, BPF_JSET = 0x40;
    private const int BPF_K = 0x00, BPF_X = 0x08, BPF_A = 0x10;
    private const int BPF_TAX = 0x00, BPF_TXA = 0x80;
    private const int BPF_MEMWORDS = 16;

    public IReadOnlyList<SockFilter> Instructions { get; } = instructions;

    /// <summary>A program as PTRACE_SECCOMP_GET_FILTER copies it out: an array of struct sock_filter.</summary>
    public static SeccompFilter Parse(ReadOnlySpan<byte> bytes)
    {
        var instructions = new SockFilter[bytes.Length / SockFilter.Size];
        for (var i = 0; i < instructions.Length; i++)
        {
            instructions[i] = SockFilter.Read(bytes[(i * SockFilter.Size)..]);
        }

        return new SeccompFilter(instructions);
    }

    /// <summary>
    /// What a thread's filters together decide (seccomp_run_filters): every filter runs, newest
    /// first, and the most restrictive action wins; of equally restrictive ones, the newest.
    /// <paramref name="filters"/> are oldest first, as PTRACE_SECCOMP_GET_FILTER numbers them.
    /// </summary>
    public static SeccompResult Run(IReadOnlyList<SeccompFilter> filters, SeccompData data)
    {
        var result = SeccompResult.Allowed;
        for (var i = filters.Count - 1; i >= 0; i--)
        {
            var current = filters[i].Run(data);
            if (current.IsMoreRestrictiveThan(result))
            {
                result = current;
            }
        }

        return result;
    }

    /// <summary>Runs the program on one system call's data.</summary>
    public SeccompResult Run(SeccompData data)
    {
        uint a = 0, x = 0;
        var memory = new uint[BPF_MEMWORDS];
        var pc = 0;

        // Classic BPF only jumps forward, so every step moves on and the loop ends.
        while (true)
        {
            if (pc < 0 || pc >= Instructions.Count)
            {
                throw new SeccompEvaluationException($"it runs past its last instruction ({Instructions.Count})");
            }

            var instruction = Instructions[pc++];
            var k = instruction.K;
            switch (instruction.Code)
            {
                case BPF_LD | BPF_W | BPF_ABS: a = data.Word(k); break;
                case BPF_LD | BPF_W | BPF_LEN: a = SeccompData.Size; break;
                case BPF_LDX | BPF_W | BPF_LEN: x = SeccompData.Size; break;
                case BPF_LD | BPF_IMM: a = k; break;
                case BPF_LDX | BPF_IMM: x = k; break;
                case BPF_LD | BPF_MEM: a = memory[Slot(k)]; break;
                case BPF_LDX | BPF_MEM: x = memory[Slot(k)]; break;
                case BPF_ST: memory[Slot(k)] = a; break;
                case BPF_STX: memory[Slot(k)] = x; break;
                case BPF_MISC | BPF_TAX: x = a; break;
                case BPF_MISC | BPF_TXA: a = x; break;
                case BPF_ALU | BPF_NEG: a = 0 - a; break;
                case BPF_RET | BPF_K: return new SeccompResult(k);
                case BPF_RET | BPF_A: return new SeccompResult(a);
                case BPF_JMP | BPF_JA: pc += (int)k; break;
                case var code when code <= 0xff && (code & 0x07) == BPF_ALU:
                    var operand = (code & BPF_X) != 0 ? x : k;
                    if ((code & 0xf0) == BPF_DIV && operand == 0)
                    {
                        // Division by zero ends the program with 0 (SECCOMP_RET_KILL_THREAD), as in the kernel.
                        return new SeccompResult(0);
                    }

                    a = Alu(code & 0xf0, a, operand) ?? throw Unknown(instruction, pc - 1);
                    break;
                case var code when code <= 0xff && (code & 0x07) == BPF_JMP:
                    var taken = Condition(code & 0xf0, a, (code & BPF_X) != 0 ? x : k) ?? throw Unknown(instruction, pc - 1);
                    pc += taken ? instruction.Jt : instruction.Jf;
                    break;
                default:
                    throw Unknown(instruction, pc - 1);
            }
        }
    }

    private static SeccompEvaluationException Unknown(SockFilter instruction, int index) =>
        new($"instruction {index} has opcode 0x{instruction.Code:x4}, which is not one a seccomp filter may use");

    /// <summary>The ALU operations a filter may use; null for any other.</summary>
    private static uint? Alu(int operation, uint a, uint operand) => operation switch
    {
        BPF_ADD => a + operand,
        BPF_SUB => a - operand,
        BPF_MUL => a * operand,
        BPF_DIV => a / operand,
        BPF_OR => a | operand,
        BPF_AND => a & operand,
        BPF_LSH => a << (int)operand,
        BPF_RSH => a >> (int)operand,
        BPF_XOR => a ^ operand,
        _ => null,
    };

    private static bool? Condition(int operation, uint a, uint operand) => operation switch
    {
        BPF_JEQ => a == operand,
        BPF_JGT => a > operand,
        BPF_JGE => a >= operand,
        BPF_JSET => (a & operand) != 0,
        _ => null,
    };

    private static int Slot(uint k) => k < BPF_MEMWORDS
        ? (int)k
        : throw new SeccompEvaluationException($"it uses scratch word {k} of {BPF_MEMWORDS}");

    public override string ToString() => string.Join(';', Instructions);
}
