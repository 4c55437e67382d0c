using Graft.Elf;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// Programs a test compiles with a build-id of its own, so that an operation by object (--all,
/// graft enable) reaches this test's processes and no other, and the patch that changes them.
/// </summary>
internal static class AnswerPrograms
{
    /// <summary>A program whose answer() returns 42, and a patch, pinned to its build-id, that makes it 43.</summary>
    public static (string Program, string Patch) BuildWithPatch(string directory, string tag)
    {
        var program = BuildProgram(directory, tag);
        var source = Path.Combine(directory, "answer_43.c");
        File.WriteAllText(source, $$"""
            #include <graft.h>
            static int answer_43(void) { return 43; }
            static struct graft_func funcs[] = { { .old_name = "answer", .new_func = answer_43 }, { } };
            static struct graft_object objs[] = { { .name = NULL, .funcs = funcs, .build_id = "{{ElfFile.Load(program).BuildId}}" }, { } };
            static struct graft_patch patch = { .name = "answer-43", .objs = objs };
            GRAFT_PATCH(patch);
            """);
        var patch = Path.Combine(directory, "answer_43.so");
        var build = Shell.Graft("build", source, "-o", patch);
        Assert.True(build.ExitCode == 0, build.Stderr);
        return (program, patch);
    }

    /// <summary>A program that prints "tick" and answer() every 20 ms, with a build-id no other program has.</summary>
    public static string BuildProgram(string directory, string tag)
    {
        var source = Path.Combine(directory, "program.c");
        File.WriteAllText(source, """
            #include <stdio.h>
            #include <unistd.h>
            static const char build[] = BUILD;
            __attribute__((noipa)) int answer(void) { return 42; }
            int main(void)
            {
                setvbuf(stdout, NULL, _IOLBF, 0);
                for (;;) {
                    printf("tick %d %s\n", answer(), build);
                    usleep(20000);
                }
            }
            """);
        var output = Directory.CreateDirectory(Path.Combine(directory, tag)).FullName + "/program";
        var compile = Shell.Run("cc", "-O2", "-g", "-Wl,--build-id", $"-DBUILD=\"{tag}-{Guid.NewGuid():N}\"", "-o", output, source);
        Assert.True(compile.ExitCode == 0, compile.Stderr);
        return output;
    }
}
