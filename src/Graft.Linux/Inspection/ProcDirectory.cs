namespace Graft.Linux.Inspection;

/// <summary>
/// Where /proc shows a process's memory, memory map and open files. That is /proc/&lt;pid&gt;
/// while its leader thread lives. A daemon whose main thread called pthread_exit() lives on
/// with a zombie leader, and the leader's entries (maps, mem, map_files, exe, fd) are then
/// empty or gone; every live thread shows the same ones under /proc/&lt;pid&gt;/task/&lt;tid&gt;.
/// </summary>
public static class ProcDirectory
{
    public static string Of(int pid)
    {
        var leader = $"/proc/{pid}";
        if (!IsZombie($"{leader}/stat"))
        {
            return leader;
        }

        var live = Directory.Exists($"{leader}/task")
            ? Directory.GetDirectories($"{leader}/task").FirstOrDefault(task => !IsZombie($"{task}/stat"))
            : null;
        return live ?? leader;
    }

    /// <summary>Whether the task has exited: its state is Z (or X, being reaped).</summary>
    public static bool IsZombie(string statPath) => State(statPath) is 'Z' or 'X';

    /// <summary>The state letter of a task's stat file (after the last ')' of the comm, which may hold any); '\0' if it is gone.</summary>
    public static char State(string statPath)
    {
        try
        {
            var stat = File.ReadAllText(statPath);
            return stat[(stat.LastIndexOf(')') + 1)..].TrimStart() is [var state, ..] ? state : '\0';
        }
        catch (IOException)
        {
            return '\0';
        }
    }
}
