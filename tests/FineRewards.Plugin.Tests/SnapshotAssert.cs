using System.Runtime.CompilerServices;
using SkiaSharp;

namespace FineRewards.Plugin.Tests;

/// <summary>
/// Compares a rendered frame with a reviewed baseline PNG in tests/FineRewards.Plugin.Tests/Baselines.
/// A pixel differs when any channel is off by more than <see cref="ChannelTolerance"/>; the test fails
/// when more than <see cref="MaxDifferentShare"/> of the pixels differ, and writes the actual frame and
/// a diff image (differing pixels red on a dimmed baseline) under TestResults/plugin-snapshots.
/// FINEREWARDS_UPDATE_BASELINES=1 writes the actual frames as the new baselines instead (review them!).
/// </summary>
public static class SnapshotAssert
{
    public const int ChannelTolerance = 16;
    public const double MaxDifferentShare = 0.002;
    public const string UpdateVariable = "FINEREWARDS_UPDATE_BASELINES";

    static string BaselineDir([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Baselines");

    public static void Matches(SKBitmap actual, string name)
    {
        string baselinePath = Path.Combine(BaselineDir(), name + ".png");
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(BaselineDir());
            File.WriteAllBytes(baselinePath, Encode(actual));
            return;
        }
        Assert.True(File.Exists(baselinePath), $"no baseline {baselinePath}; run with {UpdateVariable}=1 to create it, then review it");
        using var expected = SKBitmap.Decode(baselinePath);
        using var actualRgba = actual.Copy(SKColorType.Rgba8888);
        using var expectedRgba = expected.Copy(SKColorType.Rgba8888);
        string outDir = Path.Combine(AppContext.BaseDirectory, "TestResults", "plugin-snapshots");
        if (expectedRgba.Width != actualRgba.Width || expectedRgba.Height != actualRgba.Height)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllBytes(Path.Combine(outDir, name + ".actual.png"), Encode(actualRgba));
            Assert.Fail($"{name}: size {actualRgba.Width}x{actualRgba.Height}, baseline {expectedRgba.Width}x{expectedRgba.Height}");
        }
        var a = actualRgba.GetPixelSpan();
        var e = expectedRgba.GetPixelSpan();
        int w = actualRgba.Width, h = actualRgba.Height, different = 0, worst = 0;
        var diff = new byte[w * h * 4];
        for (int p = 0; p < w * h; p++)
        {
            int o = 4 * p, d = 0;
            for (int c = 0; c < 4; c++) d = Math.Max(d, Math.Abs(a[o + c] - e[o + c]));
            worst = Math.Max(worst, d);
            bool off = d > ChannelTolerance;
            if (off) different++;
            diff[o] = off ? (byte)255 : (byte)(e[o] / 4);
            diff[o + 1] = off ? (byte)0 : (byte)(e[o + 1] / 4);
            diff[o + 2] = off ? (byte)0 : (byte)(e[o + 2] / 4);
            diff[o + 3] = 255;
        }
        double share = (double)different / (w * h);
        if (share > MaxDifferentShare)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllBytes(Path.Combine(outDir, name + ".actual.png"), Encode(actualRgba));
            using var diffImage = SKImage.FromPixelCopy(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul), diff);
            using var data = diffImage.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(outDir, name + ".diff.png"), data.ToArray());
            Assert.Fail($"{name}: {different} pixels ({share:P2}) differ by more than {ChannelTolerance} per channel (worst {worst}); actual and diff written to {outDir}");
        }
    }

    /// <summary>A copy of the bitmap's pixels, to compare two frames exactly.</summary>
    public static byte[] Pixels(SKBitmap bitmap) => bitmap.GetPixelSpan().ToArray();

    static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
