using System.Collections.Immutable;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Panels;
using FineRewards.Plugin.Ui;

namespace FineRewards.Plugin.Tests;

/// <summary>Every panel state rendered to PNG and compared with its reviewed baseline (see <see cref="SnapshotAssert"/>).</summary>
public class PanelSnapshotTests
{
    static PluginHarness Harness(ClientSnapshot snapshot, float width = 1100, float height = 680, float scale = 1) =>
        new(new SnapshotClient(snapshot), width: width, height: height, scale: scale);

    [Fact]
    public void Unreachable_host_with_an_empty_prompt()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Unreachable));
        var output = h.Frame();
        Assert.False(h.Rect("prompt.generate").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, "prompt_unreachable");
        Assert.NotNull(output.RepaintAfter); // keeps polling the status while not ready
    }

    [Fact]
    public void Host_missing_models_names_what_is_missing()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Missing));
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, "prompt_missing_models");
    }

    [Fact]
    public void Ready_prompt_typed_with_advanced_options_open()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready));
        h.Frame();
        h.Click("prompt.advanced");
        h.Type("prompt.text", Scenarios.Prompt);
        h.Plugin.State.Prompt.SeedPolicy = 0;
        h.Frame(TimeSpan.Zero);
        SnapshotAssert.Matches(h.Bitmap, "prompt_ready_typed");
    }

    [Fact]
    public void Candidates_arriving_while_the_job_runs()
    {
        var job = Scenarios.Job(k: 4, arrived: 2, scored: false);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job));
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, "candidates_running");
    }

    [Fact]
    public void Sixteen_ranked_candidates_with_overlays_and_a_breakdown()
    {
        var job = Scenarios.Job(k: 16, arrived: 16, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), width: 1280, height: 900);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Plugin.State.OverlayOnTiles = true;
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, "candidates_ranked_16");
    }

    [Fact]
    public void Breakdown_hovering_a_segment_with_one_verdict_hidden()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job));
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        // Focus a candidate whose segments have more than one verdict, then hide "may".
        var c = job.Candidates.First(c => c!.Rewards.SelectMany(r => r.Segments).Select(s => s.Verdict).Distinct().Count() > 1)!;
        h.Click($"candidates.tile.{c.Index}");
        h.Click("breakdown.show.may");
        var segment = c.Rewards.SelectMany(r => r.Segments).First(s => s.Verdict != Core.Contracts.Verdict.May);
        var img = h.Rect("breakdown.image");
        var b = segment.Segment.Box;
        float x = img.Left + (float)((b.X + b.Width / 2) / 64 * img.Width), y = img.Top + (float)((b.Y + b.Height / 2) / 64 * img.Height);
        h.Send(new PointerMoved(x, y));
        h.Frame();
        var output = h.Frame(TimeSpan.FromMilliseconds(600));
        Assert.NotNull(output.Tooltip);
        Assert.StartsWith(segment.Segment.Label, output.Tooltip);
        SnapshotAssert.Matches(h.Bitmap, "breakdown_hover");
    }

    [Fact]
    public void History_with_a_favourite()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready));
        var t0 = new DateTimeOffset(2026, 11, 26, 20, 0, 0, TimeSpan.Zero);
        h.Plugin.History.Add(new HistoryEntry("job-a", t0, new JobParameters("a red circle", K: 4, SeedPolicy: Core.Contracts.SeedPolicy.Fixed, BaseSeed: 7)));
        h.Plugin.History.Add(new HistoryEntry("job-b", t0.AddMinutes(5), new JobParameters("two blue squares", K: 8), BaseSeed: 123456, Favourite: true));
        h.Plugin.History.Add(new HistoryEntry("job-c", t0.AddMinutes(9), new JobParameters("a green triangle to the left of a yellow circle", K: 6, Combine: CombineChoice.Sum), BaseSeed: 99));
        h.Plugin.State.Tab = SideTab.History;
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, "history");
    }

    [Fact]
    public void Training_tab_before_any_round()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready));
        h.Plugin.State.Tab = SideTab.Training;
        h.Frame();
        Assert.False(h.Rect("training.start").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, "training");
    }

    [Fact]
    public void Training_round_running_with_loss_and_reward_curves()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.RunningTraining),
        });
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.IncludeGenerated = true;
        h.Plugin.State.Training.Rounds = 3;
        h.Plugin.State.Training.StepsPerImage = 6;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        var output = h.Frame();
        Assert.NotNull(output.RepaintAfter); // progress keeps drawing while it runs
        Assert.False(h.Rect("training.cancel").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, "training_running");
    }

    [Fact]
    public void Training_finished_with_its_lora_listed_and_selected()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.FinishedTraining),
            Loras = Scenarios.Loras,
            LoraNotice = $"LoRA {HostClient.Short(Scenarios.TrainingId)} is now the active one of profile default",
        });
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        h.Plugin.State.Training.SelectedLora = Scenarios.TrainingId;
        h.Plugin.State.Prompt.Loras[Scenarios.TrainingId] = new LoraPick { On = true };
        h.Frame();
        // Only this profile's LoRAs are listed here (the picker lists every profile's).
        Assert.False(h.Rect($"training.lora.{Scenarios.TrainingId}").IsEmpty);
        Assert.False(h.Plugin.Ui.WidgetRects.ContainsKey($"training.lora.{Scenarios.Loras[2].LoraId}"));
        SnapshotAssert.Matches(h.Bitmap, "training_finished");
    }

    [Fact]
    public void Training_finished_with_a_lora_that_lowered_the_rewards_shows_the_check_per_reward()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.FinishedLoweredTraining),
            Loras = Scenarios.LorasAfterLowered,
        });
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        h.Plugin.State.Training.SelectedLora = Scenarios.TrainingId;
        h.Frame();
        h.Send(new WheelScrolled(150, 400, 0, 10_000)); // to the end of the panel, where the selected LoRA's check is
        h.Frame();
        h.Frame();
        string status = TrainingPanel.StatusText(Scenarios.FinishedLoweredTraining);
        Assert.Contains("lowered segments-test against the base model, so it was not made active", status);
        Assert.DoesNotContain("caption-test", status); // it rose
        Assert.False(h.Rect($"training.lora.{Scenarios.TrainingId}.use").IsEmpty); // the user can still choose it
        SnapshotAssert.Matches(h.Bitmap, "training_lora_check");
    }

    [Fact]
    public void Prompt_lora_picker_lists_the_hosts_loras_with_scales()
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with { Loras = Scenarios.Loras });
        h.Plugin.State.Prompt.Prompt = Scenarios.Prompt;
        h.Plugin.State.Prompt.Loras[Scenarios.TrainingId] = new LoraPick { On = true, Scale = 0.75 };
        h.Frame();
        foreach (var lora in Scenarios.Loras) Assert.False(h.Rect($"prompt.lora.{lora.LoraId}").IsEmpty);
        Assert.False(h.Rect($"prompt.lora.{Scenarios.TrainingId}.scale").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, "prompt_lora_picker");
    }

    [Fact]
    public void Narrow_dock_at_hidpi_scale_two()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), width: 720, height: 560, scale: 2);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        Assert.Equal(1440, h.Bitmap.Width);
        SnapshotAssert.Matches(h.Bitmap, "narrow_hidpi");
    }
}
