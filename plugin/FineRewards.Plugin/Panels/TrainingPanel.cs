using System.Globalization;
using FineRewards.Plugin.Client;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// Personalized LoRA rounds for the profile: start one on its accepted feedback (optionally with
/// generated best-of-K images ranked by the rewards), follow its progress with loss and reward
/// curves, then list the profile's LoRAs: select one to see its metrics, Use it (the host makes it
/// the profile's active LoRA and the prompt panel's picker turns it on), or delete it.
/// </summary>
public static class TrainingPanel
{
    public static void Draw(Ui.Ui ui, PluginState state, ClientSnapshot snapshot, IHostClient client, CurveChart chart)
    {
        var t = ui.Theme;
        var ts = state.Training;
        ui.BeginScroll("training.scroll", ui.Remaining);
        ui.Label($"Profile: {state.Profile}", t.Text);
        var sent = snapshot.Feedback;
        int Count(FeedbackChoice c) => sent.Count(f => f.Choice == c && f.State == FeedbackState.Stored);
        ui.Paragraph($"Feedback this session: {Count(FeedbackChoice.Accepted)} accepted, {Count(FeedbackChoice.Rejected)} rejected, " +
                     $"{Count(FeedbackChoice.Edited)} edited, stored on the host. A round trains on every accepted and edited image of the profile.",
            t.TextDim, ui.SmallFont);

        ui.Checkbox("training.generated", "also generate best-of-K (ARL)", ref ts.IncludeGenerated);
        ui.Tooltip("Besides the accepted images, generate K candidates for each of their prompts, rank them with the rewards (ARL) and train on the best, round after round.");
        if (ts.IncludeGenerated)
        {
            ui.Slider("training.rounds", "rounds", ref ts.Rounds, 1, 5, 1, "0");
            ui.Slider("training.k", "K", ref ts.K, 2, Math.Max(2, snapshot.Connection.Host?.MaxK ?? 8), 1, "0");
        }
        ui.Checkbox("training.preferences", "learn accepted over rejected (DPO)", ref ts.Preferences);
        ui.Tooltip("Train each accepted image against the candidates you rejected beside it, relative to the base model (objective dpo), instead of on the accepted images alone.");
        ui.Slider("training.steps", "steps/image", ref ts.StepsPerImage, 1, 50, 1, "0");
        ui.BeginRow();
        ui.Label("seed", t.TextDim, width: 40);
        ui.TextField("training.seed", ref ts.Seed, "1", c => char.IsAsciiDigit(c), maxLength: 18);
        ui.EndRow();

        var current = ts.Current is { } id ? snapshot.Trainings.GetValueOrDefault(id) : null;
        bool running = current is { Finished: false };
        bool ready = snapshot.Connection.State == ConnectionState.Ready;
        bool canStart = ready && !running && snapshot.LorasProblem?.StartsWith("this host has no", StringComparison.Ordinal) != true;
        ui.BeginRow(28);
        bool start = ui.Button("training.start", running ? "Training…" : "Start round", canStart, width: 130, primary: true);
        // Above the button: below it is the round's progress and result, which the tooltip must not hide.
        if (!canStart) ui.Tooltip(!ready ? snapshot.Connection.Message : running ? "a round is running" : snapshot.LorasProblem ?? "", above: true);
        else ui.Tooltip($"Train a LoRA for profile {state.Profile} on its accepted images", above: true);
        if (ui.Button("training.cancel", "Cancel", running)) client.CancelTraining(current!.TrainingId);
        ui.EndRow();
        if (start)
        {
            long.TryParse(ts.Seed, NumberStyles.None, CultureInfo.InvariantCulture, out long seed);
            ts.Current = client.StartTraining(new TrainingParameters(state.Profile, ts.IncludeGenerated,
                ts.IncludeGenerated ? (int)ts.Rounds : 0, ts.IncludeGenerated ? (int)ts.K : 0, (int)ts.StepsPerImage, 0, seed,
                Objective: ts.Preferences ? "dpo" : ""));
            current = client.Snapshot.Trainings.GetValueOrDefault(ts.Current);
        }

        if (current is not null) Progress(ui, current, chart);

        ui.Space(4);
        ui.Separator();
        LoraList(ui, state, snapshot, client);
        ui.EndScroll();
        if (current is { Finished: false }) ui.RepaintWithin(TimeSpan.FromMilliseconds(500));
    }

    static void Progress(Ui.Ui ui, TrainingView tv, CurveChart chart)
    {
        var t = ui.Theme;
        ui.Paragraph(StatusText(tv), tv.State == TrainingJobPhase.Failed ? t.Bad : t.Text, ui.SmallFont, maxLines: 4);
        if (tv.SuggestedFix is { Length: > 0 } fix) ui.Paragraph(fix, t.Warning, ui.SmallFont, maxLines: 3);
        if (tv.StreamProblem is { } problem) ui.Paragraph(problem, t.Warning, ui.SmallFont, maxLines: 2);
        if (tv.State == TrainingJobPhase.Running && tv.Total > 0)
        {
            var bar = ui.Allocate(0, 6);
            ui.FillRect(bar, t.Widget, 3);
            ui.FillRect(new SKRect(bar.Left, bar.Top, bar.Left + bar.Width * Math.Clamp(tv.Done, 0, tv.Total) / tv.Total, bar.Bottom), t.Accent, 3);
        }
        if (tv.LossCurve.Count == 0 && tv.RoundCurve.Count == 0) return;

        var loss = tv.LossCurve.Select(p => new SKPoint(p.Index, (float)p.Loss)).ToList();
        chart.Draw(ui, ui.Allocate(0, 96), "loss per step", [new CurveSeries("loss", t.Accent, loss)], "step");
        // Reward curves: the mean score of the kept (selected) images per round, per reward; only
        // rounds that generated and ranked candidates have them.
        var rounds = tv.RoundCurve.Where(r => r.SelectedMean.Count > 0).ToList();
        if (rounds.Count > 0)
        {
            SKColor[] colours = [t.Good, t.Warning, t.Best, t.Bad, t.Text];
            var names = rounds.SelectMany(r => r.SelectedMean.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            var series = names.Select((n, i) => new CurveSeries(n, colours[i % colours.Length],
                rounds.Where(r => r.SelectedMean.ContainsKey(n)).Select(r => new SKPoint(r.Round, (float)r.SelectedMean[n])).ToList())).ToList();
            chart.Draw(ui, ui.Allocate(0, 110), "reward of kept images per round", series, "round");
        }
        else if (tv.Finished || tv.RoundCurve.Count > 0)
            ui.Paragraph("Reward curves come with generated best-of-K rounds.", t.TextDim, ui.SmallFont);
    }

    public static string StatusText(TrainingView tv)
    {
        string text = tv.State switch
        {
            TrainingJobPhase.Submitting => "starting…",
            TrainingJobPhase.Queued => tv.QueuePosition is int p ? $"queued, {p} ahead" : "queued",
            TrainingJobPhase.Running when tv.Phase is null => $"running on {tv.FeedbackPairs} accepted images",
            TrainingJobPhase.Running =>
                $"round {tv.Round}/{Math.Max(1, tv.Rounds)} · {tv.Phase} {tv.Done}/{tv.Total}" +
                (tv.EtaSeconds is double eta ? $" · {eta.ToString("0", CultureInfo.InvariantCulture)} s left" : "") +
                $" · {tv.FeedbackPairs} accepted images",
            TrainingJobPhase.Completed =>
                $"done: LoRA {HostClient.Short(tv.LoraId ?? "")} from {tv.FeedbackPairs} accepted images, {tv.StepsDone} steps" +
                (tv.LossCurve.Count > 0 ? $", final loss {tv.LossCurve[^1].Loss.ToString("0.####", CultureInfo.InvariantCulture)}" : "") +
                (tv.Check is { } check ? $". {CheckSummary(check)}" : ""),
            TrainingJobPhase.Failed => $"failed: {tv.Error}",
            _ => $"cancelled: {tv.Error}",
        };
        return text;
    }

    /// <summary>What the host's check of a LoRA against the base model decided, in one sentence.</summary>
    public static string CheckSummary(LoraCheckView c) => c.Verdict switch
    {
        "raised" => $"It raised the rewards against the base model{(c.Activated ? ", so the host made it active" : "")}.",
        "lowered" => $"It lowered {string.Join(", ", c.Rewards.Where(r => r.New < r.Base).Select(r => r.Reward))} against the base model, so it was not made active; Use chooses it anyway.",
        _ => "It left the rewards unchanged against the base model, so it was not made active.",
    };

    /// <summary>The check's numbers: per reward the base model's mean, the LoRA's, and the change, coloured by its sign.</summary>
    static void CheckLines(Ui.Ui ui, LoraCheckView c)
    {
        var t = ui.Theme;
        ui.Paragraph($"Check against the base model: {c.Prompts} prompts ({c.ProbePrompts} probes), {c.Images} images each; " +
                     (c.Activated ? "made active." : $"{c.Verdict}, not made active."),
            c.Verdict == "lowered" ? t.Warning : t.TextDim, ui.SmallFont, maxLines: 3);
        foreach (var (reward, before, after) in c.Rewards)
        {
            double change = after - before;
            ui.Label($"{reward}: {F(before)} → {F(after)} ({(change >= 0 ? "+" : "")}{F(change)})", change < 0 ? t.Bad : change > 0 ? t.Good : t.TextDim, ui.SmallFont);
        }

        static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
    }

    /// <summary>The profile's LoRAs, newest first: click to select (its metrics show), Use, delete.</summary>
    static void LoraList(Ui.Ui ui, PluginState state, ClientSnapshot snapshot, IHostClient client)
    {
        var t = ui.Theme;
        var ts = state.Training;
        var mine = snapshot.Loras.Where(l => l.ProfileId == state.Profile).ToList();
        ui.Label($"LoRAs of {state.Profile} ({mine.Count})", t.Text);
        if (snapshot.LorasProblem is { } problem) ui.Paragraph(problem, t.Warning, ui.SmallFont, maxLines: 2);
        else if (mine.Count == 0) ui.Paragraph("None yet. A finished round registers its LoRA here.", t.TextDim, ui.SmallFont);
        foreach (var lora in mine)
        {
            string id = $"training.lora.{lora.LoraId}";
            bool selected = ts.SelectedLora == lora.LoraId;
            bool on = state.Prompt.Loras.TryGetValue(lora.LoraId, out var pick) && pick.On;
            ui.BeginRow(24);
            var row = ui.Allocate(ui.Remaining.Width - 2 * 44 - 2 * ui.Theme.Spacing, 24);
            var i = ui.Interact(id, row);
            if (i.Hovered) ui.SetCursor(Ui.CursorKind.Hand);
            if (i.Clicked) ts.SelectedLora = selected ? null : lora.LoraId;
            ui.FillRect(row, selected ? t.WidgetActive : i.Hovered ? t.WidgetHot : t.Widget, t.Corner);
            string label = $"{(on ? "✓ " : "")}{PromptPanel.LoraLabel(lora)}{(lora.Check is { } c ? $" · {c.Verdict}" : "")}";
            ui.DrawTextIn(label, new SKRect(row.Left + 6, row.Top, row.Right - 4, row.Bottom), t.Text, ui.SmallFont);
            ui.Tooltip($"{PromptPanel.LoraDetails(lora)}\n{(on ? "on in the prompt panel" : "not used by Generate")}");
            if (ui.Button($"{id}.use", "Use", !on || !lora.Active, width: 44, small: true))
            {
                // Select and use: the host makes it the profile's active LoRA, and Generate sends it.
                client.ActivateLora(lora.LoraId);
                state.Prompt.Loras[lora.LoraId] = new LoraPick { On = true, Scale = pick?.Scale ?? 1 };
                ts.SelectedLora = lora.LoraId;
            }
            ui.Tooltip("Make it the profile's active LoRA and turn it on in the Generate tab's LoRA picker");
            if (ui.Button($"{id}.delete", "✕", width: 44, small: true))
            {
                client.DeleteLora(lora.LoraId);
                state.Prompt.Loras.Remove(lora.LoraId);
                if (selected) ts.SelectedLora = null;
            }
            ui.Tooltip("Delete this LoRA on the host (its file too)");
            ui.EndRow();
            if (selected)
            {
                string metrics = string.Join(" · ", lora.Metrics.Select(m => $"{m.Key} {m.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));
                ui.Paragraph($"{lora.LoraId}\ntrained {lora.Created.ToUniversalTime():yyyy-MM-dd HH:mm} UTC · sha256 {lora.Sha256[..Math.Min(12, lora.Sha256.Length)]}…\n{metrics}",
                    t.TextDim, ui.SmallFont, maxLines: 5);
                if (lora.Check is { } check) CheckLines(ui, check);
            }
        }
        if (snapshot.LoraNotice is { } notice) ui.Paragraph(notice, t.TextDim, ui.SmallFont, maxLines: 3);
    }
}
