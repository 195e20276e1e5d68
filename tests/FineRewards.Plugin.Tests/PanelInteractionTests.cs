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
        var steps = h.Rect("training.steps");
        // Drag the steps slider to its left end (1 step per image).
        h.Send(new Ui.PointerMoved(steps.MidX, steps.MidY), new Ui.PointerPressed(steps.MidX, steps.MidY), new Ui.PointerMoved(steps.Left - 20, steps.MidY), new Ui.PointerReleased(steps.Left - 20, steps.MidY));
        h.Frame();
        h.Click("training.start");
        var sent = Assert.Single(client.Trained);
        Assert.Equal(new TrainingParameters("alice", IncludeGenerated: true, Rounds: 1, K: 4, StepsPerImage: 1, Seed: 1), sent with { Rewards = null });
        Assert.Equal("training-new", h.Plugin.State.Training.Current);

        // While the host reports it running, Start is disabled and Cancel cancels it.
        client.Snapshot = client.Snapshot with
        {
            Trainings = System.Collections.Immutable.ImmutableDictionary<string, TrainingView>.Empty
                .Add("training-new", new TrainingView("training-new", sent, TrainingJobPhase.Running)),
        };
        h.Frame();
        h.Click("training.start");
        Assert.Single(client.Trained);
        h.Click("training.cancel");
        Assert.Contains("cancel training training-new", client.Calls);
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
        Assert.Equal(new Core.Contracts.LoraReference(older, 1.0), lora);

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
}
