using System.Collections.Immutable;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Panels;
using FineRewards.Plugin.Ui;

namespace FineRewards.Plugin.Tests;

/// <summary>
/// Every panel state rendered to PNG and compared with its reviewed baseline (see <see cref="SnapshotAssert"/>),
/// each at a docker's size (420x900: one column) and at the headless editor's default (1100x680: three columns).
/// </summary>
public class PanelSnapshotTests
{
    public static TheoryData<int, int> Sizes => new() { { 420, 900 }, { 1100, 680 } };

    static PluginHarness Harness(ClientSnapshot snapshot, float width, float height, float scale = 1) =>
        new(new SnapshotClient(snapshot), width: width, height: height, scale: scale);

    static string Name(string state, int w, int h) => $"{state}_{w}x{h}";

    /// <summary>Docked, scrolls the one column so that <paramref name="id"/> is near the top, as a user would.</summary>
    static void ScrollTo(PluginHarness h, string id)
    {
        if (h.Width >= FineRewardsPlugin.DockWidth) return;
        float viewTop = h.Rect("side.tabs.0").Bottom + 8;
        h.Plugin.Ui.ScrollTo("dock.scroll", h.Plugin.Ui.ScrollOffset("dock.scroll") + h.Rect(id).Top - viewTop);
        h.Frame();
        h.Frame();
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Unreachable_host_with_an_empty_prompt(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Unreachable), w, hgt);
        var output = h.Frame();
        Assert.False(h.Plugin.Ui.VisibleRects["prompt.generate"].IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_unreachable", w, hgt));
        Assert.NotNull(output.RepaintAfter); // keeps polling the status while not ready
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Host_missing_models_names_what_is_missing(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Missing), w, hgt);
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_missing_models", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void A_pack_with_missing_files_shows_the_hosts_message_and_fix_instead_of_a_dead_button(int w, int hgt)
    {
        var snapshot = Scenarios.Snapshot(Scenarios.WithMissingPack);
        using var h = Harness(snapshot, w, hgt);
        h.Plugin.State.Prompt.Prompt = Scenarios.Prompt;
        h.Frame();
        Assert.Null(PromptPanel.UnusablePack(h.Plugin.State.Prompt, snapshot));
        h.Plugin.State.Prompt.Pack = "my-sd";
        h.Frame();
        h.Frame();
        Assert.Equal("my-sd", PromptPanel.UnusablePack(h.Plugin.State.Prompt, snapshot)?.Name);
        h.Click("prompt.generate");
        Assert.Null(h.Plugin.State.CurrentJob);
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_pack_missing", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Ready_prompt_typed_with_advanced_options_open_generate_in_view(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready), w, hgt);
        h.Frame();
        h.Click("prompt.advanced");
        h.Type("prompt.text", Scenarios.Prompt);
        h.Plugin.State.Prompt.SeedPolicy = 0;
        h.Frame(TimeSpan.Zero);
        // Pinned under the form: in view however long the form is.
        Assert.False(h.Plugin.Ui.VisibleRects["prompt.generate"].IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_ready_typed", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void A_prompt_the_pack_refuses_shows_the_hosts_message_by_generate(int w, int hgt)
    {
        var client = new SnapshotClient(Scenarios.Snapshot(Scenarios.Ready)) { Checker = (_, prompt) => Scenarios.Refused(prompt) };
        using var h = new PluginHarness(client, width: w, height: hgt);
        h.Frame();
        h.Type("prompt.text", "a cat sitting on a red sofa");
        h.Frame(PromptPanel.CheckDelay);
        h.Frame();
        Assert.NotNull(PromptPanel.Refusal(h.Plugin.State.Prompt, client.Snapshot));
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_refused", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Prompt_lora_picker_lists_the_hosts_loras_by_profile_and_date(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with { Loras = Scenarios.Loras }, w, hgt);
        h.Plugin.State.Prompt.Prompt = Scenarios.Prompt;
        h.Plugin.State.Prompt.Loras[Scenarios.TrainingId] = new LoraPick { On = true, Scale = 0.75 };
        h.Frame();
        foreach (var lora in Scenarios.Loras) Assert.False(h.Rect($"prompt.lora.{lora.LoraId}").IsEmpty);
        Assert.False(h.Rect($"prompt.lora.{Scenarios.TrainingId}.scale").IsEmpty);
        ScrollTo(h, $"prompt.lora.{Scenarios.Loras[0].LoraId}");
        SnapshotAssert.Matches(h.Bitmap, Name("prompt_lora_picker", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Candidates_arriving_while_the_job_runs(int w, int hgt)
    {
        var job = Scenarios.Job(k: 4, arrived: 2, scored: false);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), w, hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        ScrollTo(h, "candidates.tile.0");
        Assert.False(h.Plugin.Ui.VisibleRects["prompt.cancel"].IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, Name("candidates_running", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Sixteen_ranked_candidates_with_overlays_and_a_breakdown(int w, int hgt)
    {
        var job = Scenarios.Job(k: 16, arrived: 16, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), w, hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Plugin.State.OverlayOnTiles = true;
        h.Frame();
        ScrollTo(h, $"candidates.tile.{job.Order![0]}");
        SnapshotAssert.Matches(h.Bitmap, Name("candidates_ranked_16", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Breakdown_hovering_a_segment_with_one_verdict_hidden(int w, int hgt)
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), w, hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        // Focus a candidate whose segments have more than one verdict, then hide "may".
        var c = job.Candidates.First(c => c!.Rewards.SelectMany(r => r.Segments).Select(s => s.Verdict).Distinct().Count() > 1)!;
        ScrollTo(h, $"candidates.tile.{c.Index}");
        h.Click($"candidates.tile.{c.Index}");
        ScrollTo(h, "breakdown.image");
        h.Click("breakdown.show.may");
        var segment = c.Rewards.SelectMany(r => r.Segments).First(s => s.Verdict != Contracts.Verdict.May);
        var img = h.Rect("breakdown.image");
        var b = segment.Segment.Box;
        float x = img.Left + (float)((b.X + b.Width / 2) / 64 * img.Width), y = img.Top + (float)((b.Y + b.Height / 2) / 64 * img.Height);
        h.Send(new PointerMoved(x, y));
        h.Frame();
        var output = h.Frame(TimeSpan.FromMilliseconds(600));
        Assert.NotNull(output.Tooltip);
        Assert.StartsWith(segment.Segment.Label, output.Tooltip);
        SnapshotAssert.Matches(h.Bitmap, Name("breakdown_hover", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Breakdown_says_when_every_reward_tied(int w, int hgt)
    {
        var job = Scenarios.TiedJob();
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), w, hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        ScrollTo(h, "breakdown.image");
        SnapshotAssert.Matches(h.Bitmap, Name("breakdown_all_tied", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void A_job_the_host_stopped_answering_for_is_ended_with_what_to_do(int w, int hgt)
    {
        var job = Scenarios.Job(k: 4, arrived: 2, scored: false) with
        {
            Phase = JobPhase.Failed,
            Error = "the host stopped answering during the job (connection refused: nothing listens on that port)",
            SuggestedFix = "start `finerewards serve` again (it reconnects by itself), then press Generate: a restarted host marks this job failed",
        };
        using var h = Harness(Scenarios.Snapshot(Scenarios.Unreachable, job), w, hgt);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Plugin.State.Prompt.Prompt = Scenarios.Prompt;
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, Name("job_host_lost", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void History_with_thumbnails_and_a_favourite(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready), w, hgt);
        var t0 = new DateTimeOffset(2026, 11, 26, 20, 0, 0, TimeSpan.Zero);
        string Thumb(string prompt, long seed) => Convert.ToBase64String(PngCodec.Encode(ShapesSceneTestGenerator.Render(prompt, seed)));
        h.Plugin.History.Add(new HistoryEntry("job-a", t0, new JobParameters("a red circle", K: 4, SeedPolicy: Contracts.SeedPolicy.Fixed, BaseSeed: 7), Thumbnail: Thumb("a red circle", 7)));
        h.Plugin.History.Add(new HistoryEntry("job-b", t0.AddMinutes(5), new JobParameters("two blue squares", K: 8), BaseSeed: 123456, Favourite: true));
        h.Plugin.History.Add(new HistoryEntry("job-c", t0.AddMinutes(9), new JobParameters("a green triangle to the left of a yellow circle", K: 6, Combine: CombineChoice.Sum, Sampler: "euler"),
            BaseSeed: 99, Thumbnail: Thumb("a green triangle to the left of a yellow circle", 99)));
        h.Plugin.State.Tab = SideTab.History;
        h.Frame();
        SnapshotAssert.Matches(h.Bitmap, Name("history", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Training_tab_before_any_round(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready), w, hgt);
        h.Plugin.State.Tab = SideTab.Training;
        h.Frame();
        Assert.False(h.Rect("training.start").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, Name("training", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Training_round_running_with_loss_and_reward_curves(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.RunningTraining),
        }, w, hgt);
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.IncludeGenerated = true;
        h.Plugin.State.Training.Rounds = 3;
        h.Plugin.State.Training.StepsPerImage = 6;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        var output = h.Frame();
        Assert.NotNull(output.RepaintAfter); // progress keeps drawing while it runs
        Assert.False(h.Rect("training.cancel").IsEmpty);
        SnapshotAssert.Matches(h.Bitmap, Name("training_running", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Training_finished_with_its_lora_listed_and_selected(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.FinishedTraining),
            Loras = Scenarios.Loras,
            LoraNotice = $"LoRA {HostClient.Short(Scenarios.TrainingId)} is now the active one of profile default",
        }, w, hgt);
        h.Plugin.State.Tab = SideTab.Training;
        h.Plugin.State.Training.Current = Scenarios.TrainingId;
        h.Plugin.State.Training.SelectedLora = Scenarios.TrainingId;
        h.Plugin.State.Prompt.Loras[Scenarios.TrainingId] = new LoraPick { On = true };
        h.Frame();
        // Only this profile's LoRAs are listed here (the picker lists every profile's).
        Assert.False(h.Rect($"training.lora.{Scenarios.TrainingId}").IsEmpty);
        Assert.False(h.Plugin.Ui.WidgetRects.ContainsKey($"training.lora.{Scenarios.Loras[2].LoraId}"));
        SnapshotAssert.Matches(h.Bitmap, Name("training_finished", w, hgt));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Training_finished_with_a_lora_that_lowered_the_rewards_shows_the_check_per_reward(int w, int hgt)
    {
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready) with
        {
            Trainings = ImmutableDictionary<string, TrainingView>.Empty.Add(Scenarios.TrainingId, Scenarios.FinishedLoweredTraining),
            Loras = Scenarios.LorasAfterLowered,
        }, w, hgt);
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
        SnapshotAssert.Matches(h.Bitmap, Name("training_lora_check", w, hgt));
    }

    [Fact]
    public void Narrow_dock_at_hidpi_scale_two()
    {
        var job = Scenarios.Job(k: 4, arrived: 4, scored: true);
        using var h = Harness(Scenarios.Snapshot(Scenarios.Ready, job), 720, 560, scale: 2);
        h.Plugin.State.CurrentJob = job.JobId;
        h.Frame();
        Assert.Equal(1440, h.Bitmap.Width);
        SnapshotAssert.Matches(h.Bitmap, "narrow_hidpi");
    }
}
