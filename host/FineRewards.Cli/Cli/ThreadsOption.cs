using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;

namespace FineRewards.Cli.Cli;

/// <summary>`--threads N`: libtorch's intra-op threads, the same option on every command that runs a model.</summary>
public static class ThreadsOption
{
    public static Option<int?> Create() => new("--threads")
    {
        Description = "libtorch intra-op threads (default: libtorch's choice, one per core). On a machine busy with other jobs, 1 is often faster and steadier.",
    };

    public static void Apply(ParseResult parse, Option<int?> option)
    {
        if (parse.GetValue(option) is not int n) return;
        if (n < 1) throw new InputException("--threads", $"must be at least 1, got {n}");
        TorchSharp.torch.set_num_threads(n);
    }
}
