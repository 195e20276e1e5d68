namespace FineRewards.Contracts.Fonts;

/// <summary>
/// The font the product draws text with (DejaVu Sans, Bitstream Vera licence, see
/// DejaVuSans.LICENSE.txt). SkiaSharp's dependency-free Linux assets find no system fonts, so
/// every drawing surface loads this one explicitly.
/// </summary>
public static class ShippedFont
{
    public const string ResourceName = "FineRewards.Fonts.DejaVuSans.ttf";
    public const string FamilyName = "DejaVu Sans";

    public static Stream Open() =>
        typeof(ShippedFont).Assembly.GetManifestResourceStream(ResourceName)
        ?? throw new InvalidOperationException($"embedded font {ResourceName} is missing from {typeof(ShippedFont).Assembly.GetName().Name}");

    public static byte[] ReadAllBytes()
    {
        using var stream = Open();
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
