using System.Diagnostics;
using System.Text;
using Graft.Linux.Inspection;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// A fixture program running detached (through setsid in a shell), so it is not this process's
/// child: .NET reaps its own children and would swallow a traced child's ptrace stops.
/// </summary>
internal sealed class RunningFixture : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    // A fixture prints a tick every 20 ms: polling its log far more often than that costs little,
    // now that a poll reads only what was appended, and a wait ends soon after its line comes.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);
    private readonly string log;

    // The complete lines read so far, and how many bytes of the log they took: a fixture that ticks
    // for minutes writes a log of thousands of lines, which each poll must not read again. Hence
    // an object of this class is for one thread, as every test uses it.
    private readonly List<string> lines = [];
    private long linesEnd;
    private StreamWriter? input;
    private string? inputPipe;

    private RunningFixture(int pid, string log)
    {
        Pid = pid;
        this.log = log;
    }

    public int Pid { get; }

    /// <summary>The "ready" (or first "tick") line the program printed once it was set up.</summary>
    public string ReadyLine { get; private set; } = "";

    /// <summary>Starts a fixture of tests/fixtures/out by name.</summary>
    public static RunningFixture Start(string fixture, params string[] arguments) =>
        StartProgram(Repository.Fixture(fixture), arguments);

    /// <summary>Starts any program detached and waits for its "ready" or first "tick" line.</summary>
    public static RunningFixture StartProgram(string path, params string[] arguments) =>
        StartProgram(path, arguments, new Dictionary<string, string>(), withInput: false);

    /// <summary>Starts any program detached with extra environment variables, and waits for its "ready" or first "tick" line.</summary>
    public static RunningFixture StartProgram(string path, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartProgram(path, arguments, environment, withInput: false);

    /// <summary>Starts a real program (a daemon kept in the foreground) detached and waits for a line that contains <paramref name="readyText"/>.</summary>
    public static RunningFixture StartDaemon(string path, string readyText, params string[] arguments) =>
        StartProgram(path, arguments, new Dictionary<string, string>(), withInput: false, l => l.Contains(readyText, StringComparison.Ordinal));

    /// <summary>
    /// Starts a fixture that reads commands from its standard input (a FIFO this object holds
    /// open, see <see cref="Send"/>), with extra environment variables.
    /// </summary>
    public static RunningFixture StartWithInput(string fixture, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartProgram(Repository.Fixture(fixture), arguments, environment, withInput: true);

    /// <summary>Starts any program that reads commands from its standard input, as <see cref="StartWithInput"/> does a fixture.</summary>
    public static RunningFixture StartProgramWithInput(string path, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartProgram(path, arguments, environment, withInput: true);

    private static RunningFixture StartProgram(string path, string[] arguments, IReadOnlyDictionary<string, string> environment, bool withInput,
        Func<string, bool>? ready = null)
    {
        var name = $"graft-test-{Path.GetFileName(path)}-{Guid.NewGuid():N}";
        var log = Path.Combine(Path.GetTempPath(), $"{name}.log");
        var pipe = Path.Combine(Path.GetTempPath(), $"{name}.in");
        StreamWriter? input = null;
        if (withInput)
        {
            // Opened read-write, which Linux allows on a FIFO without waiting for the other end,
            // so that the program's shell does not block opening it for reading.
            Shell.Run("mkfifo", pipe);
            input = new StreamWriter(new FileStream(pipe, FileMode.Open, FileAccess.ReadWrite)) { AutoFlush = true };
        }

        var variables = string.Join(' ', environment.Select(v => $"{v.Key}={Quote(v.Value)}"));
        var command = $"{variables} setsid {Quote(path)} {string.Join(' ', arguments.Select(Quote))} > {Quote(log)} 2>&1 < {(withInput ? Quote(pipe) : "/dev/null")} & echo $!";
        var result = Shell.Run("/bin/sh", "-c", command);
        var running = new RunningFixture(int.Parse(result.Stdout.Trim()), log)
        {
            input = input,
            inputPipe = withInput ? pipe : null,
        };
        try
        {
            running.ReadyLine = running.WaitForLine(
                ready ?? (l => l.StartsWith("ready", StringComparison.Ordinal) || l.StartsWith("tick", StringComparison.Ordinal)), StartTimeout);
        }
        catch
        {
            running.Dispose();
            throw;
        }

        return running;
    }

    /// <summary>Every complete line printed so far (a line still being written is left for the next call).</summary>
    public IReadOnlyList<string> Lines() => [.. ReadLines()];

    /// <summary>The lines read so far, after reading what was appended since; not a copy, so only for use at once.</summary>
    private List<string> ReadLines()
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Position = linesEnd;
        using var appended = new MemoryStream();
        stream.CopyTo(appended);

        // Up to the last newline only: a newline byte never occurs inside a UTF-8 sequence.
        var bytes = appended.GetBuffer().AsSpan(0, (int)appended.Length);
        var complete = bytes.LastIndexOf((byte)'\n') + 1;
        lines.AddRange(Encoding.UTF8.GetString(bytes[..complete]).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        linesEnd += complete;
        return lines;
    }

    /// <summary>Waits for a line, printed after the first <paramref name="skip"/> lines, that matches.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout, int skip = 0)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (!IsAlive)
            {
                throw new InvalidOperationException($"fixture {Pid} exited; its output:\n{string.Join('\n', Lines().TakeLast(20))}");
            }

            if (ReadLines().Skip(skip).FirstOrDefault(match) is { } line)
            {
                return line;
            }

            Thread.Sleep(PollInterval);
        }

        throw new TimeoutException($"fixture {Pid} printed no matching line within {timeout}; its output ends:\n{string.Join('\n', Lines().TakeLast(20))}");
    }

    /// <summary>The next line from now on that matches.</summary>
    public string NextLine(Func<string, bool> match, TimeSpan? timeout = null) =>
        WaitForLine(match, timeout ?? TimeSpan.FromSeconds(10), ReadLines().Count);

    /// <summary>
    /// Some thread of it runs (its leader may have exited with pthread_exit and be a zombie). For a
    /// moment after such a leader exits, task/ may list it alone, the thread it had just created
    /// not yet there (headless, seen by hand in 7 of 300 starts): the leader's num_threads still
    /// counts that thread, where a process that has ended counts 1.
    /// </summary>
    public bool IsAlive => Directory.Exists($"/proc/{Pid}/task")
        && (Directory.GetDirectories($"/proc/{Pid}/task").Any(task => !ProcDirectory.IsZombie($"{task}/stat")) || ThreadCount > 1);

    /// <summary>num_threads of the process's stat: the 18th field after the command's closing parenthesis.</summary>
    private int ThreadCount
    {
        get
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{Pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return int.Parse(fields[17], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }

    public void Signal(string signal) => Shell.Run("kill", $"-{signal}", Pid.ToString());

    /// <summary>Writes one command line to the program's standard input and returns its answer, the next line starting with <paramref name="answer"/>.</summary>
    public string Send(string line, string answer, TimeSpan? timeout = null)
    {
        var skip = ReadLines().Count;
        Write(line);
        return WaitForLine(l => l.StartsWith(answer, StringComparison.Ordinal), timeout ?? TimeSpan.FromSeconds(30), skip);
    }

    /// <summary>Writes one command line to the program's standard input, without waiting for its answer.</summary>
    public void Write(string line) =>
        (input ?? throw new InvalidOperationException("the fixture was started without an input pipe")).WriteLine(line);

    public void Dispose()
    {
        Signal("KILL");
        input?.Dispose();
        File.Delete(log);
        if (inputPipe is not null)
        {
            File.Delete(inputPipe);
        }
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";
}
