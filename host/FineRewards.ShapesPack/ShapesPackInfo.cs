namespace FineRewards.ShapesPack;

/// <summary>Names shared by the Shapes pack's trainers and loaders.</summary>
public static class ShapesPackInfo
{
    public const string Name = "shapes";
    /// <summary>The rewards a job ranks with unless it names others: the paper's pair.</summary>
    public static readonly IReadOnlyList<string> DefaultRewards = ["caption", "sam"];
    /// <summary>A prompt of the pack's grammar, for messages that refuse one.</summary>
    public const string ExamplePrompt = "a red circle above a blue square";
    public const string Description = "Built-in miniature of the whole system on the Shapes world (64x64): latent diffusion, captioner, segmenter, contrastive model.";

    /// <summary>The pack folder in a source checkout (packs/shapes), found from the current or the executable's folder upwards.</summary>
    public static string? SourceFolder()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "FineRewards.sln")))
                    return Path.Combine(dir.FullName, "packs", Name);
        return null;
    }
}
