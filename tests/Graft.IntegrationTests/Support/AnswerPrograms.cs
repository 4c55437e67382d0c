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

    /// <summary>
    /// A program that loads libraries on command, a library libanswer.so beside it whose
    /// lib_answer() returns 42 and whose constructor prints it, and a patch, pinned to the
    /// library's build-id, that makes it 43. The program prints "ready PID"; "load NAME" dlopens
    /// NAME (found beside the program by its RUNPATH, $ORIGIN) and prints "loaded", lib_answer()
    /// and its pid, or "load-failed" and dlerror(); "fork-load NAME" does that in a child it forks,
    /// then prints "forked" and the child's wait status.
    /// </summary>
    public static (string Program, string Library, string Patch) BuildLoaderWithLibraryPatch(string directory, string tag)
    {
        var output = Directory.CreateDirectory(Path.Combine(directory, tag)).FullName;
        var librarySource = Path.Combine(directory, "libanswer.c");
        File.WriteAllText(librarySource, """
            #include <stdio.h>
            static const char build[] = BUILD;
            __attribute__((noipa)) int lib_answer(void) { return 42; }
            __attribute__((constructor)) static void announce(void) { printf("constructor %d %s\n", lib_answer(), build); fflush(stdout); }
            """);
        var library = Path.Combine(output, "libanswer.so");
        Compile(tag, "-shared", "-fPIC", "-Wl,-soname,libanswer.so", "-o", library, librarySource);

        var programSource = Path.Combine(directory, "loader.c");
        File.WriteAllText(programSource, """
            #include <dlfcn.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/wait.h>
            #include <unistd.h>
            static const char build[] = BUILD;
            static void load(const char *name)
            {
                void *handle = dlopen(name, RTLD_NOW);
                int (*answer)(void) = handle ? (int (*)(void))dlsym(handle, "lib_answer") : NULL;
                if (answer)
                    printf("loaded %d %d\n", answer(), getpid());
                else
                    printf("load-failed %s\n", handle ? "no lib_answer" : dlerror());
            }
            int main(void)
            {
                setvbuf(stdout, NULL, _IOLBF, 0);
                printf("ready %d %s\n", getpid(), build);
                char line[4096];
                while (fgets(line, sizeof line, stdin)) {
                    line[strcspn(line, "\n")] = '\0';
                    if (strncmp(line, "load ", 5) == 0) {
                        load(line + 5);
                    } else if (strncmp(line, "fork-load ", 10) == 0) {
                        pid_t child = fork();
                        if (child == 0) {
                            load(line + 10);
                            _exit(0);
                        }
                        int status = -1;
                        waitpid(child, &status, 0);
                        printf("forked %d\n", status);
                    }
                }
                return 0;
            }
            """);
        var program = Path.Combine(output, "loader");
        Compile(tag, "-Wl,-rpath,$ORIGIN", "-o", program, programSource);

        var patchSource = Path.Combine(directory, "lib_answer_43.c");
        File.WriteAllText(patchSource, $$"""
            #include <graft.h>
            static int lib_answer_43(void) { return 43; }
            static struct graft_func funcs[] = { { .old_name = "lib_answer", .new_func = lib_answer_43 }, { } };
            static struct graft_object objs[] = { { .name = "libanswer.so", .funcs = funcs, .build_id = "{{ElfFile.Load(library).BuildId}}" }, { } };
            static struct graft_patch patch = { .name = "lib-answer-43", .objs = objs };
            GRAFT_PATCH(patch);
            """);
        var patch = Path.Combine(directory, "lib_answer_43.so");
        var build = Shell.Graft("build", patchSource, "-o", patch);
        Assert.True(build.ExitCode == 0, build.Stderr);
        return (program, library, patch);
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
        Compile(tag, "-o", output, source);
        return output;
    }

    // The distribution's flags, and a string of its own that gives the object a build-id no other has.
    private static void Compile(string tag, params string[] arguments)
    {
        var compile = Shell.Run("cc", ["-O2", "-g", "-Wl,--build-id", $"-DBUILD=\"{tag}-{Guid.NewGuid():N}\"", .. arguments]);
        Assert.True(compile.ExitCode == 0, compile.Stderr);
    }
}
