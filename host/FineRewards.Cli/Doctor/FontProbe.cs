using FineRewards.Contracts.Fonts;
using SkiaSharp;

namespace FineRewards.Cli.Doctor;

public sealed record FontInfo(bool Loaded, string? Family, float SampleWidth, string? Error);

/// <summary>Loads the shipped font into SkiaSharp and measures a sample, proving text can be drawn.</summary>
public static class FontProbe
{
    public static FontInfo Probe()
    {
        try
        {
            using var data = SKData.CreateCopy(ShippedFont.ReadAllBytes());
            using var typeface = SKTypeface.FromData(data);
            if (typeface is null) return new FontInfo(false, null, 0, "SkiaSharp could not read the shipped font");
            using var font = new SKFont(typeface, 12);
            float width = font.MeasureText("a red circle");
            return new FontInfo(width > 0, typeface.FamilyName, width, width > 0 ? null : "the shipped font measured zero width");
        }
        catch (Exception e)
        {
            return new FontInfo(false, null, 0, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
