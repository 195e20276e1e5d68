namespace FineRewards.Diffusion.Tests;

/// <summary>Paths of the reference files copied into the test output (Fixtures/**).</summary>
public static class Fixture
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);
}
