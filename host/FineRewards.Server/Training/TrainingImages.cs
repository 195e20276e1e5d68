using FineRewards.Contracts;
using FineRewards.Core.IO;

namespace FineRewards.Server.Training;

/// <summary>
/// Brings accepted and edited images to a pack's square training size: a non-square image is
/// centre-cropped to its largest centred square (the pack learns square images; squeezing would
/// distort the shapes it is taught), then resized (<see cref="ImageResize"/>: box-averaged when shrinking, bilinear when enlarging).
/// </summary>
public static class TrainingImages
{
    public enum Preparation { Kept, Resized, CroppedAndResized }

    public static (RgbImage Image, Preparation How) Prepare(RgbImage image, int size)
    {
        if (image.Width == size && image.Height == size) return (image, Preparation.Kept);
        if (image.Width == image.Height) return (ImageResize.Resize(image, size, size), Preparation.Resized);
        int side = Math.Min(image.Width, image.Height);
        int left = (image.Width - side) / 2, top = (image.Height - side) / 2;
        var square = new byte[side * side * 3];
        for (int y = 0; y < side; y++)
            Array.Copy(image.Pixels, ((top + y) * image.Width + left) * 3, square, y * side * 3, side * 3);
        var cropped = new RgbImage(side, side, square);
        return (side == size ? cropped : ImageResize.Resize(cropped, size, size), Preparation.CroppedAndResized);
    }

    /// <summary>For the training started event: the size and how many images were changed how.</summary>
    public static string Describe(IReadOnlyList<Preparation> done, int size) =>
        $"{size}x{size}: {done.Count(p => p == Preparation.CroppedAndResized)} centre-cropped to a square and resized, "
        + $"{done.Count(p => p == Preparation.Resized)} resized, {done.Count(p => p == Preparation.Kept)} kept";
}
