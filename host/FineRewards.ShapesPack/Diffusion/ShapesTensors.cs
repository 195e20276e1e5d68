using FineRewards.Core.Contracts;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>RGB images to and from the [-1, 1] tensors the VAE reads and writes.</summary>
public static class ShapesTensors
{
    /// <returns>[B, 3, H, W] float32 in [-1, 1]</returns>
    public static Tensor FromImages(IReadOnlyList<RgbImage> images)
    {
        int h = images[0].Height, w = images[0].Width;
        var data = new float[images.Count * 3 * h * w];
        for (int b = 0; b < images.Count; b++)
        {
            var px = images[b].Pixels;
            int plane = h * w, offset = b * 3 * plane;
            for (int i = 0; i < plane; i++)
                for (int c = 0; c < 3; c++)
                    data[offset + c * plane + i] = px[3 * i + c] / 127.5f - 1f;
        }
        return tensor(data, new long[] { images.Count, 3, h, w });
    }

    /// <param name="images">[B, 3, H, W], roughly in [-1, 1] (clamped)</param>
    public static IReadOnlyList<RgbImage> ToImages(Tensor images)
    {
        using var scope = NewDisposeScope();
        var cpu = ((images.detach().to_type(ScalarType.Float32).cpu().clamp(-1, 1) + 1) * 127.5).round().to_type(ScalarType.Byte)
            .permute(0, 2, 3, 1).contiguous();                         // [B, H, W, 3]
        long b = cpu.shape[0], h = cpu.shape[1], w = cpu.shape[2];
        var all = cpu.data<byte>().ToArray();
        var result = new List<RgbImage>();
        for (int i = 0; i < b; i++)
            result.Add(new RgbImage((int)w, (int)h, all.AsSpan((int)(i * h * w * 3), (int)(h * w * 3)).ToArray()));
        return result;
    }
}
