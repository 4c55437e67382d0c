namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// graft build --source --diff --binary: builds the project as it is and as the diff makes it,
/// compares the two builds function by function, proves that every function the patch replaces
/// is, in the original build, the code the binary runs, and links the changed and added
/// functions with a generated descriptor into an ordinary patch.
/// </summary>
public sealed class DiffPatchBuilder(PatchBuilder linker)
{
    /// <exception cref="GraftException">Refused, with the reason: the diff, the builds, the binary or the change is not one a live patch can carry.</exception>
    /// <param name="callbacks">
    /// The author's C file beside the diff, linked into the patch: it may define pre_patch, post_patch,
    /// pre_unpatch and post_unpatch (graft.h's callbacks, for the binary's object) and use shadow variables.
    /// </param>
    public DiffBuildReport Build(string source, string diff, string binaryPath, string output, string buildCommand, string? name, string? callbacks = null)
    {
        if (callbacks is not null && !File.Exists(callbacks))
        {
            throw new GraftException(GraftFailure.Refused, $"the callbacks file {callbacks} does not exist");
        }

        var binary = new TargetBinary(binaryPath);
        var work = Path.Combine(Path.GetTempPath(), $"graft-build-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var pairs = new SourceBuild(source, work, buildCommand).Run(diff);
            var lines = LineShifts.Parse(File.ReadAllText(diff));
            var compared = pairs
                .Select(pair => (pair, original: new CompiledObject(pair.Original)))
                .Select(p => ObjectDiff.Compare(p.pair.RelativePath, p.original, new CompiledObject(p.pair.Patched), lines))
                .ToList();
            var diffs = compared.Where(d => d.Functions.Count > 0 || d.NewData.Count > 0).ToList();
            if (!diffs.SelectMany(d => d.Functions).Any(f => f.Change == FunctionChange.Changed))
            {
                throw new GraftException(GraftFailure.Refused, $"the diff {diff} changes the code of no function of {source}: there is nothing to patch");
            }

            foreach (var changed in diffs.SelectMany(d => d.Functions.Where(f => f.Change == FunctionChange.Changed).Select(f => (d, f))))
            {
                binary.Prove(changed.d.Original, changed.f.Name);
            }

            var code = PatchObject.Build(diffs, binary, out var patch);

            // The new code was compiled knowing what the functions it calls leave alone (-fipa-ra): they must be the binary's too.
            // One whose code differs only in the line numbers the diff moves uses the registers it used: its original build,
            // which differs from the patched one in those immediates alone, is what must be the binary's code.
            foreach (var (obj, callee) in patch.Callees)
            {
                var linesMoved = compared.FirstOrDefault(d => d.Patched == obj && d.Kept.Any(k => k.Name == callee));
                binary.Prove(linesMoved?.Original ?? obj, callee);
            }

            var patchName = name ?? Path.GetFileNameWithoutExtension(output);
            var objectFile = Path.Combine(work, "patch.o");
            var descriptor = Path.Combine(work, "descriptor.c");
            File.WriteAllBytes(objectFile, code);
            File.WriteAllText(descriptor, DescriptorSource.Write(patchName, binary.ObjectName, binary.Elf.BuildId, patch.Redirects, patch.Locals, callbacks is not null));
            linker.Build(callbacks is null ? [descriptor, objectFile] : [descriptor, objectFile, Path.GetFullPath(callbacks)], output, []);
            return new DiffBuildReport(Path.GetFullPath(output), patchName, Path.GetFullPath(binaryPath), binary.Elf.BuildId,
                [.. diffs.SelectMany(d => d.Functions), .. compared.SelectMany(d => d.Kept)], [.. diffs.SelectMany(d => d.NewData)], [.. patch.Locals.Select(l => l.Name).Order(StringComparer.Ordinal)]);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}
