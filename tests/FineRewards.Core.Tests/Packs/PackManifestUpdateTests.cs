using System.Text.Json;
using FineRewards.Core.Packs;

namespace FineRewards.Core.Tests.Packs;

public class PackManifestUpdateTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("pack-update-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    static PackComponent Component(string kind, string path, double loss) => new(kind, path,
        JsonDocument.Parse("""{"hidden": 8}""").RootElement,
        new PackTraining("finerewards pack train shapes", 7, 100, 1.5, "2026-11-26T00:00:00Z", new Dictionary<string, double> { ["loss"] = loss }));

    [Fact]
    public void Two_trainers_fill_one_manifest_that_lists_and_verifies_every_file()
    {
        Directory.CreateDirectory(Path.Combine(folder, "vae"));
        File.WriteAllText(Path.Combine(folder, "vae", "w.bin"), "vae weights");
        PackManifest.UpdateComponent(folder, "shapes", "vae", Component("diffusers", "vae", 0.5));
        File.WriteAllText(Path.Combine(folder, "captioner.bin"), "captioner weights");
        var manifest = PackManifest.UpdateComponent(folder, "shapes", "captioner", Component("captioner", "captioner.bin", 0.25));

        Assert.Equal(["captioner.bin", "vae/w.bin"], manifest.Files.Select(f => f.Path));
        Assert.Equal(["captioner", "vae"], manifest.Components!.Keys);
        var reloaded = PackManifest.Load(Path.Combine(folder, PackManifest.FileName));
        Assert.Equal(0.5, reloaded.Components!["vae"].Training!.Metrics!["loss"]);
        Assert.Equal(8, reloaded.Components["vae"].Config!.Value.GetProperty("hidden").GetInt32());
        Assert.True(PackLocator.Check(folder, verifyHashes: true).Ready);

        File.WriteAllText(Path.Combine(folder, "captioner.bin"), "captioner weightz");   // same size, other bytes
        var status = PackLocator.Check(folder, verifyHashes: true);
        Assert.Contains(status.Problems, p => p.Contains("captioner.bin") && p.Contains("sha256"));
    }

    [Fact]
    public void Replacing_a_component_keeps_the_others()
    {
        File.WriteAllText(Path.Combine(folder, "a.bin"), "a");
        PackManifest.UpdateComponent(folder, "shapes", "a", Component("captioner", "a.bin", 1));
        PackManifest.UpdateComponent(folder, "shapes", "b", Component("segmenter", "a.bin", 2));
        var manifest = PackManifest.UpdateComponent(folder, "shapes", "a", Component("captioner", "a.bin", 3));
        Assert.Equal(3, manifest.Components!["a"].Training!.Metrics!["loss"]);
        Assert.Equal(2, manifest.Components["b"].Training!.Metrics!["loss"]);
    }
}
