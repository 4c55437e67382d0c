using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching.Contract;

namespace Graft.Cli.Commands;

/// <summary>graft analyze OBJECT: which functions graft can patch, why not the others, and what their callers rely on.</summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("object") { Description = "an executable or shared library (ELF)" };
        var all = new Option<bool>("--functions") { Description = "one line per function" };
        var json = CommonOptions.Json();
        var command = new Command("analyze", "show which functions of an object graft can patch, and what their callers rely on") { path, all, json };
        command.SetAction(result => CommonOptions.Run(() =>
        {
            var report = ObjectSurvey.Run(result.GetValue(path)!);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(report, CliJson.Default.ObjectSurveyReport));
                return 0;
            }

            if (result.GetValue(all))
            {
                foreach (var function in report.Functions)
                {
                    var detail = function.Verdict == "patchable"
                        ? $"callers may rely on: {(function.Kept.Length > 0 ? function.Kept : "nothing")}{(function.MayBeCalledMisaligned ? "; may be called with rsp misaligned" : "")}"
                        : function.Reason;
                    Console.WriteLine($"0x{function.Address:x} {function.Name}: {function.Verdict}: {detail}");
                }
            }

            Console.WriteLine(
                $"{report.Path}: {report.Functions.Count} functions ({report.SymbolTable}), {report.Patchable} patchable, "
                + $"{report.NeedPreserving} of them with callers that may rely on registers or a misaligned stack, analysed in {report.Elapsed.TotalMilliseconds:0} ms");
            foreach (var (kind, count) in report.Refused)
            {
                Console.WriteLine($"  refused, {kind}: {count}");
            }

            return 0;
        }));
        return command;
    }
}
