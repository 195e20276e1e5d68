using FineRewards.Contracts;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>Conversions between <see cref="RgbImage"/> and the VAE's [-1, 1] image tensors, and of a candidate's latents.</summary>
public static class ImageTensors
{
    /// <returns>[1, C, h, w] float32 on <paramref name="device"/></returns>
    public static Tensor FromLatents(CandidateLatents latents, Device? device = null) =>
        tensor(latents.Data, new long[] { 1, latents.Channels, latents.Height, latents.Width }, dtype: ScalarType.Float32, device: device);

    /// <param name="image">[3, H, W] or [1, 3, H, W], nominally in [-1, 1]; values outside are clamped</param>
    public static RgbImage ToRgbImage(Tensor image)
    {
        using var scope = NewDisposeScope();
        var x = image.dim() == 4 ? image[0] : image;                                     // [3, H, W]
        if (x.dim() != 3 || x.shape[0] != 3) throw new ArgumentException($"expected a [3, H, W] image tensor, got [{string.Join(", ", image.shape)}]");
        // diffusers' postprocess: (x / 2 + 0.5).clamp(0, 1), then * 255 rounded.
        var bytes = (x.to(ScalarType.Float32).cpu() / 2 + 0.5).clamp(0, 1).mul(255).round()
            .to(ScalarType.Byte).permute(1, 2, 0).contiguous();                          // [H, W, 3] uint8
        return new RgbImage((int)x.shape[2], (int)x.shape[1], bytes.data<byte>().ToArray());
    }

    /// <returns>[1, 3, H, W] float32 in [-1, 1]</returns>
    public static Tensor FromRgbImage(RgbImage image, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var hwc = tensor(image.Pixels, new long[] { image.Height, image.Width, 3 }, ScalarType.Byte);
        var x = hwc.permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32).div(127.5).sub(1.0);
        if (device is not null) x = x.to(device);
        return x.MoveToOuterDisposeScope();
    }

    /// <returns>[B, 3, H, W] float32 in [-1, 1]; every image must have the same size</returns>
    public static Tensor FromRgbImages(IReadOnlyList<RgbImage> images, Device? device = null)
    {
        using var scope = NewDisposeScope();
        return cat(images.Select(i => FromRgbImage(i, device)).ToList(), 0).MoveToOuterDisposeScope();
    }

    /// <param name="images">[B, 3, H, W], nominally in [-1, 1]</param>
    public static IReadOnlyList<RgbImage> ToRgbImages(Tensor images) =>
        Enumerable.Range(0, (int)images.shape[0]).Select(i => ToRgbImage(images[i])).ToList();
}
