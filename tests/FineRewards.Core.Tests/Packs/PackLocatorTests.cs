using System.Security.Cryptography;
using System.Text.Json;
using FineRewards.Core.Packs;

namespace FineRewards.Core.Tests.Packs;

public class PackLocatorTests
{
    static string MakePack(string root, string name, byte[] content, string? shaOverride = null, long? bytesOverride = null)
    {
        string folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "unet.safetensors"), content);
        var manifest = new PackManifest(name, "1", null, new[]
        {
            new PackFile("unet.safetensors", shaOverride ?? Convert.ToHexStringLower(SHA256.HashData(content)), bytesOverride ?? content.Length),
            new PackFile("vae.safetensors", "00", 1),
        });
        File.WriteAllText(Path.Combine(folder, "pack.json"), JsonSerializer.Serialize(manifest));
        return folder;
    }

    [Fact]
    public void Missing_files_are_reported_with_their_path()
    {
        string root = Directory.CreateTempSubdirectory("fr-packs").FullName;
        string folder = MakePack(root, "shapes", new byte[] { 1, 2, 3 });
        var status = new PackLocator(new[] { root }).Find("shapes");
        Assert.False(status.Ready);
        Assert.Equal(folder, status.Folder);
        Assert.Contains(status.Problems, p => p.Contains(Path.Combine(folder, "vae.safetensors")) && p.StartsWith("missing"));
        File.WriteAllBytes(Path.Combine(folder, "vae.safetensors"), new byte[] { 9 });
        Assert.True(new PackLocator(new[] { root }).Find("shapes").Ready);
        // With hashes verified, the placeholder hash of vae.safetensors is wrong.
        var verified = new PackLocator(new[] { root }).Find("shapes", verifyHashes: true);
        Assert.Contains(verified.Problems, p => p.Contains("vae.safetensors") && p.Contains("sha256"));
    }

    [Fact]
    public void A_pack_not_found_says_where_it_was_looked_for()
    {
        string a = Directory.CreateTempSubdirectory("fr-packs-a").FullName;
        string b = Directory.CreateTempSubdirectory("fr-packs-b").FullName;
        var status = new PackLocator(new[] { a, b }).Find("shapes");
        Assert.False(status.Ready);
        Assert.Contains(Path.Combine(a, "shapes"), status.Problems[0]);
        Assert.Contains(Path.Combine(b, "shapes"), status.Problems[0]);
    }

    [Fact]
    public void The_first_root_wins_and_wrong_sizes_are_reported()
    {
        string a = Directory.CreateTempSubdirectory("fr-packs-a").FullName;
        string b = Directory.CreateTempSubdirectory("fr-packs-b").FullName;
        MakePack(a, "p", new byte[] { 1 }, bytesOverride: 5);
        MakePack(b, "p", new byte[] { 1 });
        var all = new PackLocator(new[] { a, b }).FindAll();
        var p = Assert.Single(all);
        Assert.StartsWith(a, p.Folder);
        Assert.Contains(p.Problems, x => x.Contains("1 bytes, manifest says 5"));
    }

    [Fact]
    public void A_broken_manifest_is_a_problem_not_a_crash()
    {
        string root = Directory.CreateTempSubdirectory("fr-packs").FullName;
        Directory.CreateDirectory(Path.Combine(root, "bad"));
        File.WriteAllText(Path.Combine(root, "bad", "pack.json"), "{ not json");
        var status = new PackLocator(new[] { root }).Find("bad");
        Assert.False(status.Ready);
        Assert.Contains("pack.json", status.Problems[0]);
    }
}
