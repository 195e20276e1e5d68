using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Nn;

/// <summary>
/// Tensor-with-number arithmetic that disposes its <see cref="Scalar"/> after the native call.
/// TorchSharp 0.107's operators (<c>x * 2</c>, <c>1 - x</c>) leave the Scalar they create to the
/// garbage collector, whose finalizer can free it while libtorch still reads it (dotnet/TorchSharp
/// PR #1434); under the allocation rate of on-the-fly rendering this crashed training runs every few
/// hundred steps ("Unknown scalar type"). The reader models' hot paths use these instead.
/// </summary>
public static class SafeScalars
{
    public static Tensor Mul(this Tensor x, double value) { using var s = value.ToScalar(); return x.mul(s); }
    public static Tensor Add(this Tensor x, double value) { using var s = value.ToScalar(); return x.add(s); }
    /// <summary>value - x</summary>
    public static Tensor SubFrom(this Tensor x, double value) { using var s = value.ToScalar(); using var n = x.neg(); return n.add(s); }
    /// <summary>x * a + b</summary>
    public static Tensor Affine(this Tensor x, double a, double b) { using var sa = a.ToScalar(); using var sb = b.ToScalar(); using var m = x.mul(sa); return m.add(sb); }
    public static Tensor Clamp(this Tensor x, double min, double max) { using var lo = min.ToScalar(); using var hi = max.ToScalar(); return x.clamp(lo, hi); }
    public static Tensor ClampMax(this Tensor x, double max) { using var hi = max.ToScalar(); return x.clamp_max(hi); }
    public static Tensor Equal(this Tensor x, long value) { using var s = value.ToScalar(); return x.eq(s); }
}
