using System.CommandLine;
using System.Globalization;

namespace Graft.Cli.Commands;

/// <summary>
/// The processes apply and revert act on: one pid, or every process of this host that runs the
/// code (--all, --object PATH). The pid comes first and may be left out, which System.CommandLine
/// cannot tell from its type alone: both positions are read as text and sorted out here.
/// </summary>
internal sealed class ProcessSelection
{
    private readonly Argument<string?> first = new("pid") { Description = "process id of the target; left out with --all or --object", Arity = ArgumentArity.ZeroOrOne };
    private readonly Argument<string?> second;
    private readonly Option<bool> all;
    private readonly Option<string?> objectPath = new("--object")
    {
        Description = "instead of a pid: every process of this host that maps this file (an executable or library, same device and inode), e.g. /usr/sbin/nginx",
    };

    public ProcessSelection(string subject, string subjectDescription, string allDescription)
    {
        second = new Argument<string?>(subject) { Description = subjectDescription, Arity = ArgumentArity.ZeroOrOne };
        all = new Option<bool>("--all") { Description = allDescription };
    }

    public void AddTo(Command command)
    {
        command.Arguments.Add(first);
        command.Arguments.Add(second);
        command.Options.Add(all);
        command.Options.Add(objectPath);
        command.Validators.Add(result =>
        {
            var (pid, subject) = (result.GetValue(first), result.GetValue(second));
            var byObject = result.GetValue(all) || result.GetValue(objectPath) is not null;
            if (byObject && subject is not null)
            {
                result.AddError("give a pid, or --all / --object, not both");
            }
            else if (!byObject && subject is null)
            {
                result.AddError($"give a pid and the {second.Name}, or --all / --object and the {second.Name}");
            }
            else if (!byObject && !int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                result.AddError($"'{pid}' is not a process id");
            }
        });
    }

    /// <summary>The pid (null with --all or --object), the subject (patch file or patch name), and the file --object named.</summary>
    public (int? Pid, string Subject, string? ObjectPath) Read(ParseResult result)
    {
        var objectFile = result.GetValue(objectPath) is { } path ? Path.GetFullPath(path) : null;
        return result.GetValue(second) is { } subject
            ? (int.Parse(result.GetValue(first)!, CultureInfo.InvariantCulture), subject, objectFile)
            : (null, result.GetValue(first)!, objectFile);
    }
}
