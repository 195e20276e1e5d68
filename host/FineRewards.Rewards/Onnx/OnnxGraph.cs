using System.Diagnostics;
using FineRewards.Contracts;
using FineRewards.Core;
using Microsoft.ML.OnnxRuntime;

namespace FineRewards.Rewards.Onnx;

/// <summary>One input or output a role needs: its name and shape, -1 where any size will do.</summary>
/// <param name="Optional">An input the graph may lack (e.g. attention_mask of Hugging Face's CLIP text export).</param>
public sealed record TensorSpec(string Name, long[] Shape, bool Optional = false)
{
    public override string ToString() => $"{Name} [{string.Join(",", Shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>Shared ONNX Runtime settings of the reward models.</summary>
/// <param name="IntraOpThreads">Threads per graph; 0 lets ONNX Runtime choose.</param>
public sealed record OnnxRuntimeOptions(int IntraOpThreads = 0)
{
    public SessionOptions Create()
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (IntraOpThreads > 0) options.IntraOpNumThreads = IntraOpThreads;
        return options;
    }
}

/// <summary>
/// An ONNX graph loaded for one role (CLIP vision, SAM decoder, ...). The role's inputs and outputs are checked
/// at load, so a wrong export fails when the pack is opened with the expected and found signatures, not at the first
/// image. Time spent inside <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// is accumulated so benchmarks can tell the runtime's share from our pre- and post-processing.
/// </summary>
public sealed class OnnxGraph : IDisposable
{
    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    long _insideTicks;

    public string Path { get; }
    public string Role { get; }
    /// <summary>The graph's input names (a subset of the role's, optional ones may be absent).</summary>
    public IReadOnlySet<string> Inputs { get; }
    public IReadOnlyDictionary<string, long[]> InputShapes { get; }
    public IReadOnlyDictionary<string, long[]> OutputShapes { get; }

    /// <summary>Milliseconds spent inside ONNX Runtime's Run since load or the last <see cref="ResetTime"/>.</summary>
    public double InsideMs => Interlocked.Read(ref _insideTicks) * 1000.0 / Stopwatch.Frequency;
    public void ResetTime() => Interlocked.Exchange(ref _insideTicks, 0);

    OnnxGraph(string path, string role, InferenceSession session)
    {
        Path = path;
        Role = role;
        _session = session;
        Inputs = session.InputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
        InputShapes = session.InputMetadata.ToDictionary(kv => kv.Key, kv => kv.Value.Dimensions.Select(d => (long)d).ToArray());
        OutputShapes = session.OutputMetadata.ToDictionary(kv => kv.Key, kv => kv.Value.Dimensions.Select(d => (long)d).ToArray());
    }

    /// <param name="extraInputs">Inputs beyond <paramref name="inputs"/> the role accepts by name (a decoder's past_key_values.*, whose count depends on the model).</param>
    /// <exception cref="InputException">The file is missing or not an ONNX graph (named by its path), or its signature does not fit the role.</exception>
    public static OnnxGraph Load(string path, string role, IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs, OnnxRuntimeOptions? options = null, Func<string, bool>? extraInputs = null)
    {
        if (!File.Exists(path)) throw new InputException(path, $"{role} graph not found (expected an ONNX file here)");
        InferenceSession session;
        using (var sessionOptions = (options ?? new OnnxRuntimeOptions()).Create())
        {
            try
            {
                session = new InferenceSession(path, sessionOptions);
            }
            catch (OnnxRuntimeException e)
            {
                throw new InputException(path, $"{role} graph could not be loaded by ONNX Runtime (corrupt or not an ONNX model): {e.Message}");
            }
        }
        var problems = Check(inputs, session.InputMetadata, required: true, extraInputs).Concat(Check(outputs, session.OutputMetadata, required: false, null)).ToList();
        if (problems.Count > 0)
        {
            string message = $"does not fit the {role} role ({string.Join("; ", problems)}). "
                + $"Expected inputs: {string.Join(", ", inputs)}; outputs: {string.Join(", ", outputs)}. "
                + $"Found inputs: {Describe(session.InputMetadata)}; outputs: {Describe(session.OutputMetadata)}";
            session.Dispose();
            throw new InputException(path, message);
        }
        return new OnnxGraph(path, role, session);
    }

    static List<string> Check(IReadOnlyList<TensorSpec> expected, IReadOnlyDictionary<string, NodeMetadata> found, bool required, Func<string, bool>? extra)
    {
        var problems = new List<string>();
        foreach (var spec in expected)
        {
            if (!found.TryGetValue(spec.Name, out var meta))
            {
                if (!spec.Optional) problems.Add($"missing {spec.Name}");
                continue;
            }
            var dims = meta.Dimensions;
            bool fits = dims.Length == spec.Shape.Length
                && dims.Zip(spec.Shape).All(p => p.First <= 0 || p.Second < 0 || p.First == p.Second);
            if (!fits) problems.Add($"{spec.Name} has shape {Describe(dims)}, expected {Describe(spec.Shape)}");
        }
        // Inputs we would not feed make the graph unusable; extra outputs are harmless.
        if (required)
            foreach (var name in found.Keys.Where(n => expected.All(s => s.Name != n) && extra?.Invoke(n) != true))
                problems.Add($"unexpected input {name}");
        return problems;
    }

    static string Describe(IReadOnlyDictionary<string, NodeMetadata> found) => string.Join(", ", found.Select(kv => $"{kv.Key} {Describe(kv.Value.Dimensions)}"));
    static string Describe(IEnumerable<int> dims) => "[" + string.Join(",", dims.Select(d => d <= 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
    static string Describe(IEnumerable<long> dims) => "[" + string.Join(",", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    /// <summary>The fixed size of an input dimension, or null where the graph accepts any.</summary>
    public long? FixedDimension(string input, int axis) => InputShapes.TryGetValue(input, out var s) && s.Length > axis && s[axis] > 0 ? s[axis] : null;

    /// <summary>Runs the graph; the caller disposes the outputs.</summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyDictionary<string, OrtValue> inputs, IReadOnlyList<string> outputs)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            return _session.Run(_run, inputs.Keys.ToList(), inputs.Values.ToList(), outputs.ToList());
        }
        finally
        {
            Interlocked.Add(ref _insideTicks, Stopwatch.GetTimestamp() - start);
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
