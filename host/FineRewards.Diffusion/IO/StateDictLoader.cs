using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.IO;

/// <summary>A checkpoint that does not fit its model: every problem, one per line.</summary>
public sealed class CheckpointMismatchException : Exception
{
    public string File { get; }
    public IReadOnlyList<string> Problems { get; }

    public CheckpointMismatchException(string file, IReadOnlyList<string> problems)
        : base($"{file} does not fit the model ({problems.Count} problem(s)):\n  " + string.Join("\n  ", problems))
    {
        File = file;
        Problems = problems;
    }
}

/// <summary>
/// Loads weights into a module by exact parameter name, converting dtypes (fp16 checkpoints into
/// fp32 models). Strict by default: a missing tensor, an unexpected one or a wrong shape is an
/// error that names the tensor, the expected shape and the found shape.
/// </summary>
public static class StateDictLoader
{
    /// <summary>Reads every tensor of a .safetensors file (on the CPU, in the file's dtype).</summary>
    public static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"checkpoint {path} does not exist", path);
        try
        {
            return Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"{path} is not a readable .safetensors file: {e.Message}", e);
        }
    }

    /// <param name="tensors">Name to tensor, already renamed to the module's parameter names.</param>
    /// <param name="source">The file name used in error messages.</param>
    /// <param name="ignore">Names that may be present in the file without a parameter (e.g. legacy buffers).</param>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, string source,
        bool strict = true, ISet<string>? ignore = null)
    {
        var expected = module.state_dict();
        var problems = new List<string>();
        foreach (var (name, target) in expected)
        {
            if (!tensors.TryGetValue(name, out var found))
            {
                problems.Add($"missing tensor {name}, expected shape {Shape(target.shape)}");
                continue;
            }
            if (!found.shape.SequenceEqual(target.shape))
                problems.Add($"tensor {name}: expected shape {Shape(target.shape)}, found {Shape(found.shape)}");
        }
        if (strict)
        {
            foreach (var name in tensors.Keys)
                if (!expected.ContainsKey(name) && !(ignore?.Contains(name) ?? false))
                    problems.Add($"unexpected tensor {name} (shape {Shape(tensors[name].shape)}) has no parameter in the model");
        }
        if (problems.Count > 0) throw new CheckpointMismatchException(source, problems);

        using var _ = no_grad();
        foreach (var (name, target) in expected)
            target.copy_(tensors[name].to(target.dtype, target.device));
    }

    /// <summary>Reads a .safetensors file and loads it into the module (strict).</summary>
    public static void LoadFile(nn.Module module, string path, bool strict = true, ISet<string>? ignore = null,
        Func<string, string>? rename = null)
    {
        var raw = ReadSafetensors(path);
        try
        {
            var renamed = rename is null ? raw : raw.ToDictionary(kv => rename(kv.Key), kv => kv.Value);
            Load(module, renamed, path, strict, ignore);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Loads <paramref name="weightsPath"/> strictly into a freshly built model and puts it in eval mode;
    /// disposes the model when loading fails, so a bad file never leaks its native memory.
    /// </summary>
    public static T LoadNew<T>(T model, string weightsPath) where T : nn.Module
    {
        try
        {
            LoadFile(model, weightsPath);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    public static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
