using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Nn;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Data;

/// <summary>Images to the float tensors the reader models take: [B, 3, 64, 64], values 0..1 (white = 1).</summary>
public static class ImageTensors
{
    public const int Size = Scene.Canvas;

    /// <summary>Any image size is accepted: other sizes are resized (bilinear) to 64 x 64, as generated images of other sizes should be.</summary>
    public static Tensor FromImages(IReadOnlyList<RgbImage> images)
    {
        var data = new float[images.Count * 3 * Size * Size];
        for (int b = 0; b < images.Count; b++)
        {
            var image = images[b].Width == Size && images[b].Height == Size ? images[b] : ImageResize.Resize(images[b], Size, Size);
            var px = image.Pixels;
            int baseIndex = b * 3 * Size * Size;
            for (int i = 0; i < Size * Size; i++)
                for (int c = 0; c < 3; c++)
                    data[baseIndex + c * Size * Size + i] = px[i * 3 + c] / 255f;
        }
        return tensor(data, [images.Count, 3, Size, Size]);
    }

    public static RgbImage ToImage(Tensor image)                          // [3, 64, 64] -> image
    {
        using var scope = NewDisposeScope();
        var hwc = image.Clamp(0, 1).Mul(255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        return new RgbImage((int)image.shape[2], (int)image.shape[1], hwc.data<byte>().ToArray());
    }

    /// <summary>Renders scenes with the spec renderer.</summary>
    public static Tensor Render(IEnumerable<Scene> scenes) => FromImages(scenes.Select(SceneRenderer.Render).ToList());

    /// <summary>The per-pixel class targets [B, 64, 64] (int64) of scenes.</summary>
    public static Tensor ClassTargets(IEnumerable<Scene> scenes)
    {
        var maps = scenes.Select(s => SceneMasks.ClassMap(s.Objects)).ToList();
        var flat = new long[maps.Count * Size * Size];
        for (int b = 0; b < maps.Count; b++)
            for (int i = 0; i < Size * Size; i++) flat[b * Size * Size + i] = maps[b][i];
        return tensor(flat, [maps.Count, Size, Size], ScalarType.Int64);
    }
}
