using static TorchSharp.torch;

namespace FineRewards.Diffusion.Runtime;

public sealed record TorchInfo(bool Loaded, string? Error, int Threads, bool CudaAvailable, int CudaDevices,
    double ConvolutionError = double.NaN);

/// <summary>Checks that libtorch loads and computes, for `finerewards doctor` and the tests.</summary>
public static class TorchProbe
{
    /// <param name="convolutions">Also measure <see cref="ConvolutionError"/> (doctor); off for a caller that only
    /// asks about CUDA, since the first CPU convolution may print libtorch warnings (NNPACK) to stderr.</param>
    public static TorchInfo Probe(bool convolutions = false)
    {
        try
        {
            using var scope = NewDisposeScope();
            var t = ones(2, 3).matmul(ones(3, 2));
            float v = t.sum().item<float>();
            if (v != 12f) return new TorchInfo(false, $"libtorch loaded but computed {v} for a sum that must be 12", 0, false, 0);
            bool hasCuda = TorchSharp.torch.cuda.is_available();
            return new TorchInfo(true, null, get_num_threads(), hasCuda, hasCuda ? TorchSharp.torch.cuda.device_count() : 0,
                convolutions ? ConvolutionError() : double.NaN);
        }
        catch (Exception e)
        {
            // TorchSharp wraps the loader's error; the innermost message is the useful one.
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            return new TorchInfo(false, $"{e.GetType().Name}: {inner.Message}", 0, false, 0);
        }
    }

    /// <summary>Largest relative convolution error allowed in float32 against float64 (right kernels: about 1e-7).</summary>
    public const double ConvolutionTolerance = 1e-5;

    /// <summary>
    /// Largest relative difference (max |float32 - float64| / max |float64|) between float32 and float64 convolutions:
    /// outputs, input gradients and weight gradients, with and without an input gradient, over the shapes whose oneDNN
    /// kernels were wrong on an AMD EPYC (<see cref="OneDnnIsa"/>): 3x3 with 24 input channels, and a LoRA's
    /// rank-4 3x3 down and 1x1 up convolutions.
    /// </summary>
    public static double ConvolutionError()
    {
        double worst = 0;
        foreach (var (inChannels, outChannels, kernel) in new (long, long, long)[] { (24, 16, 3), (8, 16, 3), (16, 4, 3), (4, 16, 1) })
        foreach (bool inputGrad in new[] { true, false })
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(7);
            var x = randn(new long[] { 2, inChannels, 16, 16 }, generator: generator);                      // [B, C_in, H, W]
            var w = randn(new long[] { outChannels, inChannels, kernel, kernel }, generator: generator) * 0.1; // [C_out, C_in, k, k]
            var upstream = randn(new long[] { 2, outChannels, 16, 16 }, generator: generator);              // d loss / d output
            var single = Convolve(x, w, upstream, inputGrad);
            var reference = Convolve(x.to(ScalarType.Float64), w.to(ScalarType.Float64), upstream.to(ScalarType.Float64), inputGrad);
            for (int i = 0; i < reference.Length; i++)
                worst = Math.Max(worst, (single[i].to(ScalarType.Float64) - reference[i]).abs().max().item<double>()
                                        / Math.Max(reference[i].abs().max().item<double>(), 1e-12));
        }
        return worst;
    }

    /// <summary>conv2d (same padding) and its gradients for an upstream gradient: output, d weight[, d input].</summary>
    static Tensor[] Convolve(Tensor x, Tensor w, Tensor upstream, bool inputGrad)
    {
        var input = x.detach().requires_grad_(inputGrad);
        var weight = w.detach().requires_grad_(true);
        using var _ = enable_grad();
        var y = TorchSharp.torch.nn.functional.conv2d(input, weight, padding: new long[] { w.shape[2] / 2, w.shape[3] / 2 });
        (y * upstream).sum().backward();   // d loss / d y = upstream
        return inputGrad ? [y.detach(), weight.grad!.detach(), input.grad!.detach()] : [y.detach(), weight.grad!.detach()];
    }
}
