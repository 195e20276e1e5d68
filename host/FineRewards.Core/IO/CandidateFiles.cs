namespace FineRewards.Core.IO;

/// <summary>
/// The folder layout every best-of-K writer and reader shares (`generate`, `eval`, `render-shapes`,
/// `pack eval` write it; `eval-shapes` reads it): candidate c of prompt i is DIR/p{i:0000}_c{c}.png.
/// </summary>
public static class CandidateFiles
{
    /// <summary>The candidate's id within a folder, e.g. "p0003_c1".</summary>
    public static string Id(int prompt, int candidate) => $"p{prompt:0000}_c{candidate}";

    public static string ImageName(int prompt, int candidate) => Id(prompt, candidate) + ".png";
}
