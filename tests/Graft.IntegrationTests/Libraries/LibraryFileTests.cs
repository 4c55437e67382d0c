using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;

namespace Graft.IntegrationTests.Libraries;

/// <summary>
/// graftd reads the memory map at every library load and keeps what it parsed before; a library
/// replaced at its path between two loads (a new inode, as an upgrade installs it) is read again,
/// never taken for the one it replaced, even where the loader maps it at the same address.
/// </summary>
public sealed class LibraryFileTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graft-libfile-").FullName;

    [Fact]
    public void ALibraryReplacedAtItsPathBetweenTwoLoadsIsReadAgain()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var memory = new RemoteMemory(host.Pid);
        var path = Path.Combine(directory, "libswap.so");
        File.Copy(Repository.Fixture("libstackmod.so"), path);

        Assert.Equal($"loaded {path}", host.Send($"load {path}", "loaded"));
        var first = ModuleMap.Read(host.Pid, memory);
        Assert.Contains(first.Find("libswap.so")!.Elf.DynamicSymbols, s => s.Name == "stack_b");
        Assert.Equal($"unloaded {path}", host.Send($"unload {path}", "unloaded"));

        var replacement = path + ".new";
        File.Copy(Repository.Fixture("libcbmod.so"), replacement);
        File.Move(replacement, path, overwrite: true);
        Assert.Equal($"loaded {path}", host.Send($"load {path}", "loaded"));

        var second = ModuleMap.Read(host.Pid, memory, first);
        var module = second.Find("libswap.so")!;
        Assert.Equal(new FileInfo(path).Length, module.Elf.Image.Length);
        Assert.DoesNotContain(module.Elf.DynamicSymbols, s => s.Name == "stack_b");
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);
}
