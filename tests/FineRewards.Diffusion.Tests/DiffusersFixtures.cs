using FineRewards.Diffusion.IO;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests;

/// <summary>Reads the diffusers parity fixtures copied next to the test assembly.</summary>
public static class DiffusersFixtures
{
    public static string PathOf(string file)
    {
        var path = Fixture.Path("diffusers", file);
        if (!File.Exists(path)) throw new FileNotFoundException($"fixture {file} was not copied to the test output", path);
        return path;
    }

    /// <summary>
    /// A fixture .safetensors file split into the model's parameters (fp16, as stored) and the
    /// recorded tensors ("input.*", "output.*", "intermediate.*", fp32), keyed without their prefix group.
    /// </summary>
    public sealed class Recording : IDisposable
    {
        public Dictionary<string, Tensor> Parameters { get; } = new();
        public Dictionary<string, Tensor> Recorded { get; } = new();
        public string Path { get; }

        public Recording(string file)
        {
            Path = PathOf(file);
            foreach (var (key, tensor) in StateDictLoader.ReadSafetensors(Path))
            {
                bool recorded = key.StartsWith("input.") || key.StartsWith("output.") || key.StartsWith("intermediate.");
                (recorded ? Recorded : Parameters)[key] = tensor;
            }
        }

        public Tensor this[string key] => Recorded.TryGetValue(key, out var t)
            ? t
            : throw new KeyNotFoundException($"{Path} has no recorded tensor {key}");

        public void Dispose()
        {
            foreach (var t in Parameters.Values.Concat(Recorded.Values)) t.Dispose();
        }
    }

    /// <summary>Max |a - b| after checking the shapes agree.</summary>
    public static double MaxAbsDiff(Tensor actual, Tensor expected, string what)
    {
        Assert.True(actual.shape.SequenceEqual(expected.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}] != expected [{string.Join(", ", expected.shape)}]");
        using var diff = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max();
        return diff.item<double>();
    }

    public static void AssertClose(Tensor actual, Tensor expected, double tolerance, string what)
    {
        double diff = MaxAbsDiff(actual, expected, what);
        Assert.True(diff <= tolerance, $"{what}: max |diff| {diff:E2} > {tolerance:E1}");
    }

    /// <summary>Key/shape lines of a *_keys.txt fixture (comments dropped) and its "# total" figure.</summary>
    public static (List<string> Lines, long Total) ReadKeyList(string file)
    {
        var lines = new List<string>();
        long total = -1;
        foreach (var line in File.ReadAllLines(PathOf(file)))
        {
            if (line.StartsWith("# total ")) total = long.Parse(line["# total ".Length..]);
            else if (line.Length > 0 && !line.StartsWith('#')) lines.Add(line);
        }
        return (lines, total);
    }
}
