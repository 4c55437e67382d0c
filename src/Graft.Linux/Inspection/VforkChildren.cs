using System.Globalization;
using Graft.Linux.Interop;

namespace Graft.Linux.Inspection;

/// <summary>
/// Children of a process's threads that share its address space: vfork children (vfork, or a
/// clone with CLONE_VM such as posix_spawn's) that have not called execve or exited yet, found
/// through each thread's /proc children list and kcmp(KCMP_VM).
/// </summary>
public static class VforkChildren
{
    /// <summary>Those of <paramref name="threads"/>' children that share process <paramref name="pid"/>'s memory, but for the ones <paramref name="known"/> says graft holds.</summary>
    public static List<int> SharingMemory(int pid, IEnumerable<int> threads, Func<int, bool> known)
    {
        var found = new List<int>();
        foreach (var tid in threads)
        {
            string children;
            try
            {
                children = File.ReadAllText($"/proc/{pid}/task/{tid}/children");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var word in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(word, CultureInfo.InvariantCulture, out var child) && !known(child) && Kcmp.kcmp(pid, child, Kcmp.KCMP_VM) == 0)
                {
                    found.Add(child);
                }
            }
        }

        return found;
    }
}
