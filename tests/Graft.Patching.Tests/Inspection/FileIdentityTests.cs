using Graft.Linux.Inspection;

namespace Graft.Patching.Tests.Inspection;

/// <summary>
/// graft apply --object finds the processes that map a file by its device and inode, as stat
/// gives them for the path and /proc/&lt;pid&gt;/maps writes them for each mapping.
/// </summary>
public sealed class FileIdentityTests : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("graft-identity-");

    private static MemoryMapping MappedFile => ProcessMaps.Read(Environment.ProcessId)
        .First(m => m.IsFile && m.IsExecutable && !m.Path.EndsWith(" (deleted)", StringComparison.Ordinal));

    [Fact]
    public void AMappedFileIsKnownByItsPath()
    {
        var mapping = MappedFile;

        Assert.True(FileIdentity.Of(mapping.Path).IsMappedBy(mapping), $"{mapping.Path} on {mapping.Device}, inode {mapping.Inode}");
    }

    [Fact]
    public void ACopyOfTheFileIsAnotherFile()
    {
        var mapping = MappedFile;
        var copy = Path.Combine(directory.FullName, "copy");
        File.Copy(mapping.Path, copy);

        Assert.False(FileIdentity.Of(copy).IsMappedBy(mapping));
    }

    public void Dispose() => directory.Delete(recursive: true);
}
