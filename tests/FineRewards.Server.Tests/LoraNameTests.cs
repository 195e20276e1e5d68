using System.Security.Cryptography;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Protocol.V1;
using FineRewards.Server.Storage;
using Grpc.Core;

namespace FineRewards.Server.Tests;

/// <summary>A client names registered LoRAs or files inside the host's LoRA folder, nothing else on the host.</summary>
public class LoraNameTests
{
    static SubmitGenerationRequest WithLora(string name)
    {
        var r = TestHost.Request(k: 1, steps: 1);
        r.Loras.Add(new LoraWeight { Name = name, Scale = 1 });
        return r;
    }

    static async Task RefusedWithoutLeaking(TestHost host, string name)
    {
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Jobs.SubmitGenerationAsync(WithLora(name)));
        Assert.Equal("loras[0].name", field);
        Assert.Contains("is not a LoRA of this host", message);
        Assert.DoesNotContain("header", message);
        Assert.DoesNotContain("byte", message);
        Assert.DoesNotContain("root", message); // /etc/passwd's first line
    }

    [Fact]
    public async Task Host_files_outside_the_lora_folder_are_refused_at_submit_and_nothing_is_queued()
    {
        await using var host = await TestHost.StartAsync();
        await RefusedWithoutLeaking(host, "/etc/passwd");
        await RefusedWithoutLeaking(host, "/etc/passwd.safetensors");
        // Relative names resolve inside the LoRA folder, and ".." may not climb out of it.
        await RefusedWithoutLeaking(host, "../host.db");
        await RefusedWithoutLeaking(host, "../loras/../../x.safetensors");
        await RefusedWithoutLeaking(host, Path.Combine(host.DataDirectory, "host.db"));
        // An unregistered id is no LoRA either.
        await RefusedWithoutLeaking(host, Guid.NewGuid().ToString());
    }

    [Fact]
    public async Task A_symbolic_link_in_the_lora_folder_that_leads_out_of_it_is_refused()
    {
        await using var host = await TestHost.StartAsync();
        string loras = Directory.CreateDirectory(Path.Combine(host.DataDirectory, "loras")).FullName;
        string outside = Path.Combine(host.DataDirectory, "secret.safetensors");
        File.WriteAllText(outside, "not for clients");
        File.CreateSymbolicLink(Path.Combine(loras, "escape.safetensors"), outside);
        Directory.CreateSymbolicLink(Path.Combine(loras, "etc"), "/etc");

        await RefusedWithoutLeaking(host, "escape.safetensors");
        await RefusedWithoutLeaking(host, Path.Combine(loras, "escape.safetensors"));
        await RefusedWithoutLeaking(host, "etc/passwd.safetensors");
    }

    [Fact]
    public async Task A_file_in_the_lora_folder_works_and_the_png_carries_its_short_hash()
    {
        await using var host = await TestHost.StartAsync();
        string loras = Directory.CreateDirectory(Path.Combine(host.DataDirectory, "loras", "styles")).FullName;
        // A safetensors layout: 8-byte header length, JSON header, tensor bytes.
        byte[] header = "{\"__metadata__\":{\"a\":\"b\"}}"u8.ToArray();
        byte[] data = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        byte[] file = [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. data];
        File.WriteAllBytes(Path.Combine(loras, "ink.safetensors"), file);

        var request = WithLora("styles/ink.safetensors");
        await host.Jobs.SubmitGenerationAsync(request);
        var events = await host.WatchToEndAsync(request.JobId);
        Assert.Equal(JobEvent.KindOneofCase.Completed, events[^1].KindCase);

        var ready = events.First(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).CandidateReady;
        string parameters = PngCodec.Decode(await host.GetImageAsync(ready.ImageId)).Text[GenerationParameters.ParametersKey];
        // AUTOMATIC1111's meaning: the name and the first 12 hex digits of the SHA-256 of the bytes after the header.
        string hash = Convert.ToHexStringLower(SHA256.HashData(data))[..12];
        Assert.Contains($"Lora hashes: \"ink: {hash}\"", parameters);
    }
}
