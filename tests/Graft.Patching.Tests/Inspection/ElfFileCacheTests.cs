using Graft.Linux.Inspection;
using Graft.Patching.Tests.Support;

namespace Graft.Patching.Tests.Inspection;

/// <summary>
/// graftd reads a process's map at every library load and unload, and parses each file once:
/// a file that did not change is not read again, one replaced at the same path or rewritten in
/// place is.
/// </summary>
public sealed class ElfFileCacheTests(StackLibrary library) : IClassFixture<StackLibrary>, IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-elfcache-");

    private string Path => System.IO.Path.Combine(directory.FullName, "libcached.so");

    // Another ELF file, without libstack.so's functions: the test host's own executable.
    private static string Other => Environment.ProcessPath!;

    [Fact]
    public void AFileThatDidNotChangeIsParsedOnce()
    {
        File.Copy(library.FilePath, Path);
        var cache = new ElfFileCache();

        Assert.Same(cache.Load(Path, Path), cache.Load(Path, Path));
    }

    [Fact]
    public void ALibraryReplacedAtTheSamePathIsReadAgain()
    {
        File.Copy(library.FilePath, Path);
        var cache = new ElfFileCache();
        Assert.Contains(cache.Load(Path, Path).DynamicSymbols, s => s.Name == "leaf");

        // As an installer replaces a library: a new file (a new inode) renamed over the path.
        var replacement = System.IO.Path.Combine(directory.FullName, "libcached.so.new");
        File.Copy(Other, replacement);
        File.Move(replacement, Path, overwrite: true);

        Assert.DoesNotContain(cache.Load(Path, Path).DynamicSymbols, s => s.Name == "leaf");
    }

    [Fact]
    public void ALibraryRewrittenInPlaceIsReadAgain()
    {
        File.Copy(Other, Path);
        var cache = new ElfFileCache();
        var inode = Inode(Path);
        Assert.DoesNotContain(cache.Load(Path, Path).DynamicSymbols, s => s.Name == "leaf");

        using (var stream = new FileStream(Path, FileMode.Open, FileAccess.Write))
        {
            stream.SetLength(0);
            stream.Write(File.ReadAllBytes(library.FilePath));
        }

        Assert.Equal(inode, Inode(Path));
        Assert.Contains(cache.Load(Path, Path).DynamicSymbols, s => s.Name == "leaf");
    }

    public void Dispose() => directory.Delete(recursive: true);

    private static ulong Inode(string path) =>
        Linux.Interop.Files.stat(path, out var status) == 0 ? status.st_ino : throw new IOException($"cannot stat {path}");
}
