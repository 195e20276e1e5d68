using System.CommandLine;
using System.Text.Json;
using FineRewards.Diffusion.Inspect;
using FineRewards.Cli.Cli;

namespace FineRewards.Cli.Tests;

[Collection(MetaDeviceCollection.Name)]
public class InspectCommandTests
{
    [Fact]
    public void Json_report_has_per_component_counts_and_total()
    {
        var report = ArchitectureInspector.Inspect("sd21");
        using var doc = JsonDocument.Parse(InspectCommand.ToJson(report, withKeys: false));
        var root = doc.RootElement;
        Assert.Equal("sd21", root.GetProperty("architecture").GetString());
        var unet = root.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "unet");
        Assert.Equal(865_910_724, unet.GetProperty("parameters").GetInt64());
        Assert.Equal(686, unet.GetProperty("tensors").GetInt32());
        Assert.Equal(865_910_724L + 83_653_863L + 340_387_840L, root.GetProperty("total").GetInt64());
        var text = root.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "text_encoder");
        Assert.Equal(340_387_840, text.GetProperty("parameters").GetInt64());   // OpenCLIP-H text tower as diffusers keeps it
        Assert.False(unet.TryGetProperty("keys", out _));
    }

    [Fact]
    public void Keys_are_listed_with_shapes_when_asked()
    {
        var report = ArchitectureInspector.Inspect("sd15");
        var text = InspectCommand.ToText(report, withKeys: true);
        Assert.Contains("859,520,964", text);
        Assert.Contains("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight\t[320, 768]", text);
        Assert.Contains("decoder.mid_block.attentions.0.to_q.weight\t[512, 512]", text);
    }

    [Fact]
    public void Unknown_architecture_exits_with_bad_input()
    {
        var root = new RootCommand { InspectCommand.Create() };
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(CliErrors.BadInput, root.Parse(["inspect", "--arch", "sd3"]).Invoke());
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("--arch", error.ToString());
    }
}
