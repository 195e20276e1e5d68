using System.Runtime.CompilerServices;
using FineRewards.Examples.HeadlessEditor;
using FineRewards.Plugin.Client;
using FineRewards.Protocol.V1;
using FineRewards.Server.Tests;
using SkiaSharp;

namespace FineRewards.Plugin.Tests;

/// <summary>The headless editor replays its committed demo script against an in-process host.</summary>
public class HeadlessEditorTests
{
    static string DemoScript([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "examples", "headless-editor", "scripts", "demo.json"));

    [Fact]
    public async Task The_demo_script_generates_accepts_trains_and_writes_every_frame()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward()],
            trainer: new RecordingTrainer());
        // FINEREWARDS_HEADLESS_OUT=DIR keeps the frames there (an empty folder) to look at them.
        string? keep = Environment.GetEnvironmentVariable("FINEREWARDS_HEADLESS_OUT");
        string outDir = keep ?? Directory.CreateTempSubdirectory("finerewards-headless-").FullName;
        try
        {
            var steps = ScriptRunner.Load(DemoScript());
            var document = new HeadlessDocument("demo", 64, 64, Path.Combine(outDir, "settings.json"));
            using var client = new HostClient(host.Host.Address.ToString().TrimEnd('/'), clientId: "headless-editor");
            using var plugin = new FineRewardsPlugin(client, document);
            var log = new StringWriter();
            var runner = new ScriptRunner(plugin, document, outDir, 1100, 680, 1, log);
            await runner.RunAsync(steps);

            // One frame before the first step and one after each.
            Assert.Equal(steps.Count + 1, runner.Frames);
            var frames = Directory.GetFiles(outDir, "frame_*.png").Order().ToList();
            Assert.Equal(steps.Count + 1, frames.Count);
            using (var last = SKBitmap.Decode(frames[^1])) Assert.Equal((1100, 680), (last.Width, last.Height));
            // The hover step showed the segment's tooltip; accept placed a layer and the host stored the feedback.
            Assert.Contains("tooltip: ", log.ToString());
            var layer = Assert.Single(document.Layers);
            Assert.StartsWith("a red circle above a blue square (seed 4", layer.Name);
            var stored = Assert.Single((await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "default" })).Feedback);
            Assert.Equal(FeedbackKind.Accepted, stored.Kind);
            // The training round on that feedback registered a LoRA, which the Generate tab's picker listed.
            var lora = Assert.Single((await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "default" })).Loras);
            Assert.Equal(lora.LoraId, plugin.State.Training.Current);
            Assert.Contains(client.Snapshot.Loras, l => l.LoraId == lora.LoraId);
            // History went to the settings file and survives the editor.
            Assert.Contains("a red circle above a blue square", File.ReadAllText(Path.Combine(outDir, "settings.json")));
        }
        finally { if (keep is null) TestHost.TryDelete(outDir); }
    }
}
