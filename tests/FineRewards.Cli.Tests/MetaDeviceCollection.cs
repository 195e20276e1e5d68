namespace FineRewards.Cli.Tests;

/// <summary>
/// Tests that build models on the meta device. TorchSharp's default device is process-wide, so
/// they run alone, after the parallel tests, and never meta-build another test's model.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetaDeviceCollection
{
    public const string Name = "meta default device";
}
