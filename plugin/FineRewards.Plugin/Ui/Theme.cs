using FineRewards.Contracts.Fonts;
using SkiaSharp;

namespace FineRewards.Plugin.Ui;

/// <summary>Colours and metrics of the plugin's look: dark, like most editors' docks.</summary>
public sealed record Theme
{
    public SKColor Background { get; init; } = new(0x26, 0x27, 0x2b);
    public SKColor Panel { get; init; } = new(0x31, 0x33, 0x38);
    public SKColor PanelBorder { get; init; } = new(0x45, 0x48, 0x4f);
    public SKColor Widget { get; init; } = new(0x3d, 0x40, 0x47);
    public SKColor WidgetHot { get; init; } = new(0x4a, 0x4e, 0x57);
    public SKColor WidgetActive { get; init; } = new(0x2f, 0x62, 0x9e);
    public SKColor Accent { get; init; } = new(0x4c, 0x9a, 0xe8);
    public SKColor Text { get; init; } = new(0xe8, 0xe8, 0xea);
    public SKColor TextDim { get; init; } = new(0x9a, 0x9d, 0xa5);
    public SKColor Disabled { get; init; } = new(0x6a, 0x6d, 0x75);
    public SKColor Good { get; init; } = new(0x4c, 0xc3, 0x6b);
    public SKColor Warning { get; init; } = new(0xe8, 0xb3, 0x3c);
    public SKColor Bad { get; init; } = new(0xe8, 0x5a, 0x4f);
    public SKColor Best { get; init; } = new(0xf2, 0xc9, 0x4c);
    public SKColor Picked { get; init; } = new(0x4c, 0x9a, 0xe8);
    public SKColor TooltipBack { get; init; } = new(0x12, 0x13, 0x15, 0xf0);

    public float FontSize { get; init; } = 13;
    public float SmallFontSize { get; init; } = 11;
    public float HeadingFontSize { get; init; } = 14;
    public float RowHeight { get; init; } = 24;
    public float Spacing { get; init; } = 6;
    public float Padding { get; init; } = 10;
    public float Corner { get; init; } = 4;

    public static Theme Dark { get; } = new();
}

/// <summary>The shipped font (DejaVu Sans, from Core) loaded once; SkiaSharp's Linux assets have no system fonts.</summary>
public static class UiTypeface
{
    static readonly Lazy<SKTypeface> typeface = new(() =>
    {
        using var data = SKData.CreateCopy(ShippedFont.ReadAllBytes());
        return SKTypeface.FromData(data) ?? throw new InvalidOperationException($"SkiaSharp could not read the shipped font {ShippedFont.ResourceName}");
    });

    public static SKTypeface Default => typeface.Value;

    public static SKFont Create(float size) => new(Default, size)
    {
        Edging = SKFontEdging.Antialias,
        Hinting = SKFontHinting.None,
        Subpixel = true,
    };
}
