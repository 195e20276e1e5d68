using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Panels;

namespace FineRewards.Plugin.Tests;

/// <summary>Panel behaviour from synthetic input over fixed client snapshots (no host).</summary>
public class PanelInteractionTests
{
    [Fact]
    public void History_copies_seed_and_prompt_toggles_favourite_reuses_and_deletes()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready));
        using var h = new PluginHarness(client);
        var t0 = new DateTimeOffset(2026, 11, 26, 20, 0, 0, TimeSpan.Zero);
        h.Plugin.History.Add(new HistoryEntry("job-a", t0, new JobParameters("two blue squares", K: 6, Steps: 30), BaseSeed: 1234));
        h.Plugin.State.Tab = SideTab.History;
        h.Frame();

        h.Click("history.job-a.seed");
        Assert.Equal("1234", h.Editor.Clipboard);
        h.Click("history.job-a.prompt");
        Assert.Equal("two blue squares", h.Editor.Clipboard);

        h.Click("history.job-a.fav");
        Assert.True(h.Plugin.History.Entries.Single().Favourite);
        // Stored through the editor's settings, so a new plugin on the same document sees it.
        using (var again = new PluginHarness(new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready)), h.Editor))
            Assert.True(again.Plugin.History.Entries.Single().Favourite);

        h.Click("history.job-a.open");
        Assert.Equal("job-a", h.Plugin.State.CurrentJob);
        Assert.Contains("watch job-a", client.Calls);

        h.Click("history.job-a.reuse");
        Assert.Equal(SideTab.Prompt, h.Plugin.State.Tab);
        Assert.Equal("two blue squares", h.Plugin.State.Prompt.Prompt);
        Assert.Equal("1234", h.Plugin.State.Prompt.Seed);
        Assert.Equal(0, h.Plugin.State.Prompt.SeedPolicy); // fixed, so the job can be repeated
        Assert.Equal(30, h.Plugin.State.Prompt.Steps);

        h.Plugin.State.Tab = SideTab.History;
        h.Frame();
        h.Click("history.job-a.delete");
        Assert.Empty(h.Plugin.History.Entries);
    }

    [Fact]
    public void Generate_sends_the_panel_parameters_and_records_history()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready));
        using var h = new PluginHarness(client);
        h.Frame();
        h.Click("prompt.generate");
        Assert.DoesNotContain(client.Calls, c => c.StartsWith("generate")); // no prompt yet: disabled
        h.Type("prompt.text", "a red circle");
        h.Click("prompt.reward.caption-test"); // untick one reward (the prompt loses focus)
        h.Send(new Ui.KeyPressed(Ui.Key.Enter));
        h.Frame();
        Assert.DoesNotContain(client.Calls, c => c.StartsWith("generate")); // Enter went to no field
        h.Click("prompt.text");
        h.Send(new Ui.KeyPressed(Ui.Key.Enter));
        h.Frame();
        Assert.Contains("generate a red circle", client.Calls);
        var entry = Assert.Single(h.Plugin.History.Entries);
        Assert.Equal(["segments-test"], entry.Parameters.Rewards);
        Assert.Equal(4, entry.Parameters.K);
        Assert.Equal("job-new", h.Plugin.State.CurrentJob);
    }

    [Fact]
    public void Rejecting_sends_rejected_feedback_without_touching_the_document()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job));
        using var h = new PluginHarness(client);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        h.Click("breakdown.reject");
        Assert.Contains($"feedback Rejected {job.Selected}", client.Calls);
        Assert.Empty(h.Editor.Layers);
    }

    [Fact]
    public void Start_round_sends_the_profile_and_options_and_disables_itself_while_it_runs()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready));
        using var h = new PluginHarness(client);
        h.Plugin.State.Profile = "alice";
        h.Plugin.State.Tab = SideTab.Training;
        h.Frame();
        h.Click("training.generated");
        h.Frame();
        h.Click("training.preferences");
        h.Frame();
        var steps = h.Rect("training.steps");
        // Drag the steps slider to its left end (1 step per image).
        h.Send(new Ui.PointerMoved(steps.MidX, steps.MidY), new Ui.PointerPressed(steps.MidX, steps.MidY), new Ui.PointerMoved(steps.Left - 20, steps.MidY), new Ui.PointerReleased(steps.Left - 20, steps.MidY));
        h.Frame();
        h.Click("training.start");
        var sent = Assert.Single(client.Trained);
        Assert.Equal(new TrainingParameters("alice", IncludeGenerated: true, Rounds: 1, K: 4, StepsPerImage: 1, Seed: 1, Objective: "dpo"), sent with { Rewards = null });
        Assert.Equal("training-new-1", h.Plugin.State.Training.Current);
        // While it starts (the host has not answered yet), the frame of the click already shows it disabled.
        Assert.Equal(SnapshotAssert.Pixels(h.Bitmap), SnapshotAssert.Pixels(Redrawn(h)));
        h.Click("training.start");
        Assert.Single(client.Trained);

        // While the host reports it running, Start is disabled and Cancel cancels it.
        client.Snapshot = client.Snapshot with
        {
            Trainings = System.Collections.Immutable.ImmutableDictionary<string, TrainingView>.Empty
                .Add("training-new-1", new TrainingView("training-new-1", sent, TrainingJobPhase.Running)),
        };
        h.Frame();
        h.Click("training.start");
        Assert.Single(client.Trained);
        h.Click("training.cancel");
        Assert.Contains("cancel training training-new-1", client.Calls);
    }

    [Fact]
    public void Use_activates_a_lora_and_generate_carries_it_with_its_scale_delete_removes_it()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready) with { Loras = Scenarios.Loras });
        using var h = new PluginHarness(client);
        string older = Scenarios.Loras[1].LoraId;
        h.Plugin.State.Tab = SideTab.Training;
        h.Frame();
        h.Click($"training.lora.{older}");
        Assert.Equal(older, h.Plugin.State.Training.SelectedLora);
        h.Click($"training.lora.{older}.use");
        Assert.Contains($"activate {older}", client.Calls);

        h.Click("side.tabs.0");
        Assert.True(h.Plugin.State.Prompt.Loras[older].On);
        h.Type("prompt.text", "a red circle");
        h.Click("prompt.generate");
        var lora = Assert.Single(Assert.Single(client.Generated).Loras!);
        Assert.Equal(new Contracts.LoraReference(older, 1.0), lora);

        // Untick it in the picker: the next request carries none.
        h.Click($"prompt.lora.{older}");
        h.Click("prompt.generate");
        Assert.Null(client.Generated[^1].Loras);

        h.Click("side.tabs.2");
        h.Click($"training.lora.{older}.delete");
        Assert.Contains($"delete {older}", client.Calls);
        Assert.False(h.Plugin.State.Prompt.Loras.ContainsKey(older));
    }

    [Fact]
    public void Cached_tiles_are_drawn_again_when_their_look_or_candidate_changes()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job));
        using var h = new PluginHarness(client);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        int other = job.Order![3]; // not the host's pick, so not focused by default
        var tile = h.Rect($"candidates.tile.{other}");
        // A pixel on the focus ring (1 px, 5 px inside the tile) and one in the image.
        SkiaSharp.SKColor Ring() => h.Bitmap.GetPixel((int)tile.Left + 5, (int)tile.Top + 60);
        List<SkiaSharp.SKColor> Image()
        {
            var pixels = new List<SkiaSharp.SKColor>();
            for (int y = (int)tile.Top + 6; y < tile.Top + tile.Width - 6; y += 2)
                for (int x = (int)tile.Left + 6; x < tile.Right - 6; x += 2) pixels.Add(h.Bitmap.GetPixel(x, y));
            return pixels;
        }
        var ring = Ring();
        var image = Image();
        h.Frame();
        Assert.Equal(ring, Ring()); // unchanged: the same cached tile

        h.Click($"candidates.tile.{other}");
        h.Send(new Ui.PointerMoved(1, 1)); // leave the tile: focused, not hovered
        h.Frame();
        Assert.Equal(other, h.Plugin.State.Focused);
        Assert.NotEqual(ring, Ring());

        // A new snapshot of the job (other seeds, so other images) redraws the tile.
        client.Snapshot = Scenarios.Snapshot(Scenarios.Ready, Scenarios.Job(k: 4, arrived: 4, scored: true, baseSeed: 7));
        h.Frame();
        Assert.Equal(tile, h.Rect($"candidates.tile.{other}"));
        Assert.NotEqual(image, Image());
    }

    /// <summary>The harness's bitmap after one more frame without input: what the last frame should already have shown.</summary>
    static SkiaSharp.SKBitmap Redrawn(PluginHarness h)
    {
        h.Frame();
        return h.Bitmap;
    }

    [Fact]
    public void A_click_is_drawn_in_its_own_frame_not_one_frame_later()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job));
        using var h = new PluginHarness(client);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        foreach (string id in new[] { "candidates.overlays", "breakdown.show.may", "side.tabs.2", "side.tabs.0", "prompt.advanced" })
        {
            h.Click(id);
            var clicked = SnapshotAssert.Pixels(h.Bitmap);
            Assert.True(clicked.SequenceEqual(SnapshotAssert.Pixels(Redrawn(h))), $"the frame of the click on {id} differs from the next one");
        }
        Assert.True(h.Plugin.State.OverlayOnTiles);
        Assert.Equal(SideTab.Prompt, h.Plugin.State.Tab);
    }

    [Fact]
    public void Samplers_and_default_rewards_come_from_the_hosts_pack()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready));
        using var h = new PluginHarness(client);
        h.Frame();
        h.Click("prompt.advanced");
        for (int i = 0; i < Scenarios.Samplers.Length; i++) h.Rect($"prompt.sampler.{i}");
        Assert.False(h.Plugin.Ui.WidgetRects.ContainsKey($"prompt.sampler.{Scenarios.Samplers.Length}"));
        h.Click("prompt.sampler.3");
        h.Type("prompt.text", "a red circle");
        h.Click("prompt.generate");
        var sent = Assert.Single(client.Generated);
        Assert.Equal("dpmpp_2m", sent.Sampler);
        // The pack's default set is ticked; the random baseline is offered but not chosen.
        Assert.Equal(["caption-test", "segments-test"], sent.Rewards);
        h.Rect("prompt.reward.random");
    }

    [Fact]
    public void A_prompt_the_host_refuses_disables_generate_and_says_why()
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready)) { Checker = (pack, prompt) => Scenarios.Refused(prompt) };
        using var h = new PluginHarness(client);
        h.Frame();
        h.Type("prompt.text", "a cat sitting on a red sofa");
        // Asked only once typing rests.
        Assert.DoesNotContain(client.Calls, c => c.StartsWith("check"));
        h.Frame(PromptPanel.CheckDelay);
        h.Frame();
        Assert.Contains("check |a cat sitting on a red sofa", client.Calls);
        h.Click("prompt.generate");
        Assert.Empty(client.Generated);
        var generate = h.Rect("prompt.generate");
        h.Send(new Ui.PointerMoved(generate.MidX, generate.MidY));
        h.Frame();
        var tip = h.Frame(TimeSpan.FromMilliseconds(600)).Tooltip;
        Assert.NotNull(tip);
        Assert.Contains("is not in the Shapes grammar", tip);
    }

    [Fact]
    public void Accept_scales_the_candidate_to_the_canvas_and_says_so()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job));
        using var h = new PluginHarness(client, new FakeEditorHost(256, 192));
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        h.Click("breakdown.accept");
        var layer = Assert.Single(h.Editor.Layers).Image;
        Assert.Equal((256, 192), (layer.Width, layer.Height));
        Assert.Contains("scaled 64×64 → 192×192 to the 256×192 canvas", h.Plugin.State.Notice);
        // Nearest neighbour: each source pixel becomes a 3x3 block, centred (32 px of white either side).
        var source = job.Candidates[job.Selected!.Value]!.Image!;
        Assert.Equal(source[10, 20], layer[32 + 30 + 1, 61]);
        Assert.Equal(((byte)255, (byte)255, (byte)255), layer[5, 100]);
    }

    [Fact]
    public void A_ranked_job_leaves_its_chosen_image_in_the_history_entry()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job));
        using var h = new PluginHarness(client);
        h.Plugin.History.Add(new HistoryEntry(job.JobId, DateTimeOffset.UtcNow, job.Parameters));
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        var entry = Assert.Single(h.Plugin.History.Entries);
        Assert.NotNull(entry.Thumbnail);
        var image = PngCodec.Decode(Convert.FromBase64String(entry.Thumbnail), overWhite: true).Image;
        Assert.Equal((HistoryStore.ThumbnailSize, HistoryStore.ThumbnailSize), (image.Width, image.Height));
        Assert.Equal(job.Candidates[job.Selected!.Value]!.Image!.Pixels, image.Pixels);
    }
}

/// <summary>Tooltips leave what they explain in view.</summary>
public class TooltipPlacementTests
{
    static SkiaSharp.SKRect Hover(PluginHarness h, SkiaSharp.SKRect target)
    {
        h.Send(new Ui.PointerMoved(target.MidX, target.MidY));
        h.Frame();
        Assert.NotNull(h.Frame(TimeSpan.FromMilliseconds(600)).Tooltip);
        return h.Plugin.Ui.TooltipRect;
    }

    [Theory]
    [InlineData(420, 900)]
    [InlineData(1100, 680)]
    public void The_running_jobs_tooltip_is_above_generate_not_over_the_progress(int w, int hgt)
    {
        var job = Scenarios.Job(k: 4, arrived: 2, scored: false);
        using var h = new PluginHarness(new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job)), width: w, height: hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        var generate = h.Rect("prompt.generate");
        var tip = Hover(h, generate);
        Assert.True(tip.Bottom <= generate.Top, $"tooltip {tip} reaches below the top of Generate {generate}");
    }

    [Fact]
    public void The_start_round_tooltip_is_above_the_button_not_over_the_rounds_result()
    {
        using var h = new PluginHarness(new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = System.Collections.Immutable.ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.FinishedTraining),
        }));
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        h.Frame();
        var start = h.Rect("training.start");
        Assert.True(Hover(h, start).Bottom <= start.Top);
    }

    [Fact]
    public void The_segment_tooltip_does_not_cover_the_segment()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        using var h = new PluginHarness(new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready, job)));
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        var c = job.Candidates[job.Selected!.Value]!;
        var img = h.Rect("breakdown.image");
        foreach (var s in c.Rewards.SelectMany(r => r.Segments))
        {
            var b = s.Segment.Box;
            float sx = img.Width / 64, sy = img.Height / 64;
            var seg = new SkiaSharp.SKRect(img.Left + (float)b.X * sx, img.Top + (float)b.Y * sy, img.Left + (float)(b.X + b.Width) * sx, img.Top + (float)(b.Y + b.Height) * sy);
            var tip = Hover(h, seg);
            Assert.False(tip.IntersectsWith(seg), $"tooltip {tip} covers {s.Segment.Label} at {seg}");
        }
    }
}
