using FineRewards.ShapesPack;

namespace FineRewards.ShapesPack.Tests;

public class ShapesPackInfoTests
{
    [Fact]
    public void Source_folder_is_packs_shapes_at_the_repository_root()
    {
        var folder = ShapesPackInfo.SourceFolder();
        Assert.NotNull(folder);
        Assert.True(File.Exists(Path.Combine(folder!, "..", "..", "FineRewards.sln")));
        Assert.Equal(Path.Combine("packs", "shapes"), Path.GetRelativePath(Path.GetFullPath(Path.Combine(folder!, "..", "..")), folder!));
    }
}
