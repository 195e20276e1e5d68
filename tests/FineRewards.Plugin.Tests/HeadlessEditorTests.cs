using System.Runtime.CompilerServices;
using FineRewards.Contracts;
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

    /// <summary>A reward that scores every image alike: it fills the reward list as a real host's six do.</summary>
    sealed class FlatReward(string name) : FineRewards.Contracts.IReward
    {
        public string Name => name;
        public string Version => "1";
        public IReadOnlyList<FineRewards.Contracts.RewardScore> Score(string prompt, IReadOnlyList<FineRewards.Contracts.RgbImage> images, CancellationToken cancellationToken = default) =>
            images.Select(_ => new FineRewards.Contracts.RewardScore(Name, 0.5, new FineRewards.Contracts.RewardEvidence())).ToList();
    }

    /// <summary>At the size the docs give (1100x680), with as many rewards as `serve` lists for the Shapes pack (six checkboxes).</summary>
    [Fact]
    public async Task The_demo_script_generates_accepts_trains_and_writes_every_frame()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(),
            rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward(), new FlatReward("sam_coverage"), new FlatReward("sam_count"), new FlatReward("clip"), new FlatReward("random")],
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
    [Fact]
    public async Task Hover_and_move_take_a_widget_or_a_point_and_a_bad_step_names_itself()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward()]);
        string outDir = Directory.CreateTempSubdirectory("finerewards-headless-").FullName;
        try
        {
            using var client = new HostClient(host.Host.Address.ToString().TrimEnd('/'), clientId: "headless-editor");
            var document = new HeadlessDocument("hover", 64, 64, null);
            using var plugin = new FineRewardsPlugin(client, document);
            var runner = new ScriptRunner(plugin, document, outDir, 420, 900, 1, new StringWriter());
            await runner.RunAsync(Steps("""[{"wait_until": "ready"}, {"hover": [200, 300]}, {"move": "prompt.generate"}, {"hover": "prompt.text"}]"""));
            Assert.Equal(5, runner.Frames);
            var e = await Assert.ThrowsAsync<FineRewards.Contracts.InputException>(() => runner.RunAsync(Steps("""[{"hover": [1]}]""")));
            Assert.Equal("script[0]: expected a widget id or [x, y] in logical pixels, found [1]", e.Message);
        }
        finally { TestHost.TryDelete(outDir); }
    }

    static List<System.Text.Json.JsonElement> Steps(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    [Fact]
    public void Bench_writes_each_states_frame_beside_its_numbers_at_docker_width()
    {
        string outDir = Directory.CreateTempSubdirectory("finerewards-bench-").FullName;
        try
        {
            var output = new StringWriter();
            Assert.Equal(0, Bench.Run(2, 420, 900, 1, outDir, output));
            Assert.Contains("docked (one column)", output.ToString());
            Assert.Equal(output.ToString().Split('\n').Take(4), File.ReadAllText(Path.Combine(outDir, "bench.txt")).Split('\n').Take(4));
            foreach (var name in new[] { "bench_no_job.png", "bench_overlays_in_breakdown.png", "bench_overlays_on_tiles.png" })
            {
                using var frame = SKBitmap.Decode(Path.Combine(outDir, name));
                Assert.Equal((420, 900), (frame.Width, frame.Height));
            }
        }
        finally { TestHost.TryDelete(outDir); }
    }
}
