using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Core.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void A_failed_write_leaves_the_old_file_and_no_temporary()
    {
        string dir = Directory.CreateTempSubdirectory("fr-atomic").FullName;
        string path = Path.Combine(dir, "data.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Directory.Delete(dir, true);
    }
}
