using FineRewards.Contracts;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// The focused candidate and why it ranked where it did: its image with the segment overlay (toggle
/// per verdict, each segment listed, details on hover), the method's rule, each reward's score and
/// rank, which rewards decided and which tied, the caption; then accept / reject / send edited.
/// </summary>
public static class BreakdownPanel
{
    static readonly Verdict[] Verdicts = [Verdict.Certain, Verdict.May, Verdict.Unlikely];

    /// <summary>The panel's height with all its content in view (from the last frame; the docked layout stacks it).</summary>
    public static float Height(Ui.Ui ui, PluginState state, JobView? job)
    {
        float chrome = 26 + 2 * ui.Theme.Padding;
        if (Focused(state, job) is null) return chrome + 3 * ui.Font.Size * 1.35f;
        float content = ui.ContentHeight("breakdown.scroll");
        return chrome + (content > 0 ? content : 640);
    }

    static CandidateView? Focused(PluginState state, JobView? job)
    {
        int? index = job is null ? null : state.Focused ?? state.PickedOf(job);
        return job is not null && index is int ix && ix < job.Candidates.Length ? job.Candidates[ix] : null;
    }

    /// <param name="pinActions">Keep the actions in view under the scrolling explanation; false when the
    /// panel is sized to its content inside a scroll of its own (docked).</param>
    public static void Draw(Ui.Ui ui, PluginState state, IHostClient client, IEditorHost editor, JobView? job, SegmentOverlay overlay,
        SKRect rect, List<EditorRequest> requests, bool pinActions = true)
    {
        var t = ui.Theme;
        var c = Focused(state, job);
        ui.BeginPanel(rect, c is null ? "Breakdown" : $"Breakdown — candidate {c.Index}");
        if (job is null || c is null)
        {
            ui.Paragraph("Click a candidate to see why it ranked where it did: caption, per-reward scores and ranks, and each segment's verdict.", t.TextDim);
            ui.EndPanel();
            return;
        }

        // The actions are pinned under the scrolling explanation, so Accept is always in view.
        var area = ui.Remaining;
        var status = ActionStatus(ui, state, client, job, c);
        float footer = !pinActions ? 0 : 2 * (t.RowHeight + t.Spacing)
            + status.Sum(l => Math.Min(3, Ui.Ui.Wrap(l.Text, area.Width, ui.SmallFont, ui).Count) * ui.SmallFont.Size * 1.35f + t.Spacing);
        ui.BeginScroll("breakdown.scroll", new SKRect(area.Left, area.Top, area.Right, Math.Max(area.Top, area.Bottom - (pinActions ? footer + t.Spacing : 0))));
        var segments = RankingExplanation.DistinctSegments(c.Rewards);
        float side = Math.Min(ui.Remaining.Width - 8, 256);
        var img = ui.Allocate(side, side);
        var hit = ui.Interact("breakdown.image", img);

        // The segment under the pointer: the smallest visible mask holding that image pixel.
        JudgedSegment? hovered = null;
        if (hit.Hovered && segments.Count > 0)
        {
            var mask0 = segments[0].Segment.Mask;
            int px = (int)((hit.Pointer.X - img.Left) / img.Width * mask0.Width), py = (int)((hit.Pointer.Y - img.Top) / img.Height * mask0.Height);
            hovered = segments.Where(s => state.Shows(s.Verdict) && SegmentOverlay.Contains(s.Segment.Mask, px, py))
                .OrderBy(s => s.Segment.Mask.Area).FirstOrDefault();
        }
        if (c.Preview is { } preview) overlay.DrawComposite(ui, preview, c.Rewards, img, state.Shows, hovered);
        else ui.FillRect(img, t.Background);
        foreach (var s in segments)
            if (state.Shows(s.Verdict)) LetterTag(ui, s, img);
        if (hovered is not null)
        {
            // Under the image, never over the segment it describes.
            int n = segments.IndexOf(hovered);
            ui.TooltipAt(SegmentText(hovered), new SKPoint(img.Left, img.Bottom + 4), $"breakdown.segment.{c.Index}.{n}");
        }

        // Legend with toggles: pattern swatch, letter and word, count (each segment once).
        foreach (var v in Verdicts)
        {
            ui.BeginRow(20);
            var sw = ui.Allocate(20, 18);
            overlay.DrawSwatch(ui.Canvas, v, sw, ui.Input.Scale, ui.SmallFont);
            bool show = state.ShowVerdict[(int)v];
            int count = segments.Count(s => s.Verdict == v);
            if (ui.Checkbox($"breakdown.show.{v.Word()}", $"{v.Word()} ({v.Score():+0.0;-0.0;0}) — {count} segment{(count == 1 ? "" : "s")}", ref show))
                state.ShowVerdict[(int)v] = show;
            ui.EndRow();
        }
        if (segments.Count == 0) ui.Label(c.Scored ? "no segments reported" : "not scored yet", t.TextDim, ui.SmallFont);
        // Every segment in words, not only under the pointer.
        foreach (var s in segments)
            ui.Label($"{SegmentOverlay.Letter(s.Verdict)}  {s.Segment.Label} — {s.Verdict.Word()}, confidence {s.Segment.Confidence:0.00}",
                state.Shows(s.Verdict) ? t.Text : t.TextDim, ui.SmallFont);

        ui.Separator();
        int k = job.Parameters.K;
        ui.Label($"seed {c.Seed} · rank {job.RankOf(c.Index)?.ToString() ?? "–"} of {k} · {CandidatesPanel.TotalText(job, c.Total)}", t.Text, ui.SmallFont);
        if (job.Ranked) ui.Paragraph(RankingExplanation.Rule(job), t.TextDim, ui.SmallFont);
        Rewards(ui, job, c);
        foreach (var r in c.Rewards.Where(r => r.Caption is not null))
            ui.Paragraph(r.Reward.Contains("caption", StringComparison.Ordinal) ? $"{r.Reward}: “{r.Caption}”" : $"caption ({r.Reward}): “{r.Caption}”",
                t.Text, ui.SmallFont, maxLines: 3);

        if (!pinActions) ActionsAndStatus();
        ui.EndScroll();
        if (pinActions)
        {
            ui.BeginColumn(new SKRect(area.Left, area.Bottom - footer, area.Right, area.Bottom));
            ActionsAndStatus();
            ui.EndColumn();
        }
        ui.EndPanel();

        void ActionsAndStatus()
        {
            Actions(ui, state, client, editor, job, c, requests);
            foreach (var (text, colour) in status) ui.Paragraph(text, colour, ui.SmallFont, maxLines: 3);
        }
    }

    public static string SegmentText(JudgedSegment s) =>
        $"{s.Segment.Label}\n{s.Verdict.Word()} ({SegmentOverlay.Letter(s.Verdict)}, {SegmentOverlay.Pattern(s.Verdict)}) · confidence {s.Segment.Confidence:0.00}";

    /// <summary>One row per reward (score, rank as bar and words), then what decided and what tied.</summary>
    static void Rewards(Ui.Ui ui, JobView job, CandidateView c)
    {
        var t = ui.Theme;
        var tied = RankingExplanation.TiedEverywhere(job);
        bool allTied = c.Rewards.Count > 0 && tied.Count == c.Rewards.Count;
        // Said first: when nothing told the candidates apart, the rest of the numbers mean nothing.
        if (allTied && RankingExplanation.Decider(job, c) is { } none) ui.Paragraph(none, t.Warning, ui.SmallFont, maxLines: 6);
        foreach (var r in c.Rewards)
        {
            ui.BeginRow(14);
            ui.DrawTextIn($"{CandidatesPanel.Fmt(r.Score)}", ui.Allocate(52, 14), t.TextDim, ui.SmallFont, SKTextAlign.Right);
            CandidatesPanel.DrawRewardBar(ui, r, job.Parameters.K, ui.Allocate(0, 14));
            ui.EndRow();
            if (r.Flags.Count > 0) ui.Label($"{r.Reward}: {string.Join(", ", r.Flags)}", t.Warning, ui.SmallFont);
        }
        if (c.Rewards.Count > 0) ui.Label("score · reward · its rank among the candidates", t.TextDim, ui.SmallFont);
        if (tied.Count > 0 && tied.Count < c.Rewards.Count)
            ui.Paragraph($"{string.Join(", ", tied)} gave every candidate the same score: {(tied.Count == 1 ? "it" : "they")} did not decide anything.", t.Warning, ui.SmallFont);
        if (!allTied && RankingExplanation.Decider(job, c) is { } why) ui.Paragraph(why, t.Text, ui.SmallFont, maxLines: 6);
    }

    static void Actions(Ui.Ui ui, PluginState state, IHostClient client, IEditorHost editor, JobView job, CandidateView c, List<EditorRequest> requests)
    {
        var t = ui.Theme;
        int? picked = state.PickedOf(job);
        ui.BeginRow();
        if (ui.Button("breakdown.pick", picked == c.Index ? "✓ picked" : "Use this one", enabled: picked != c.Index, width: 110))
            state.Picks[job.JobId] = c.Index;
        if (ui.Button("breakdown.accept", "Accept → layer", enabled: c.Image is not null, primary: true))
        {
            var (image, how) = LayerFit.ToDocument(c.Image!, editor.DocumentWidth, editor.DocumentHeight);
            requests.Add(new PlaceLayerRequest($"{job.Parameters.Prompt} (seed {c.Seed})", image));
            state.FeedbackIds[(job.JobId, c.Index)] = client.SendFeedback(job.JobId, c.Index, FeedbackChoice.Accepted, state.Profile);
            state.Notice = $"placed candidate {c.Index} as a new layer, {how}";
        }
        ui.Tooltip("Places the image as a new layer, scaled to the canvas, and tells the host you kept it (training data for the profile).", above: true);
        ui.EndRow();
        ui.BeginRow();
        if (ui.Button("breakdown.reject", "Reject", width: 110))
        {
            state.FeedbackIds[(job.JobId, c.Index)] = client.SendFeedback(job.JobId, c.Index, FeedbackChoice.Rejected, state.Profile);
            state.Notice = $"rejected candidate {c.Index}";
        }
        if (ui.Button("breakdown.edited", "Send edited layer"))
        {
            if (editor.ReadCurrentLayer() is { } layer)
            {
                state.FeedbackIds[(job.JobId, c.Index)] = client.SendEdited(job.JobId, c.Index, layer, state.Profile);
                state.Notice = "sending the current layer as an edit of this candidate";
            }
            else state.Notice = "the document has no layer to send";
        }
        ui.Tooltip("Uploads the editor's current layer as your edited version of this candidate.");
        ui.EndRow();
    }

    /// <summary>The lines under the actions: what the last one did, and the feedback's state on the host.</summary>
    static List<(string Text, SKColor Colour)> ActionStatus(Ui.Ui ui, PluginState state, IHostClient client, JobView job, CandidateView c)
    {
        var t = ui.Theme;
        var lines = new List<(string, SKColor)>();
        if (state.Notice is { } notice) lines.Add((notice, t.TextDim));
        if (state.FeedbackIds.TryGetValue((job.JobId, c.Index), out var fid) && client.Snapshot.Feedback.FirstOrDefault(f => f.FeedbackId == fid) is { } fb)
        {
            string word = fb.Choice.ToString().ToLowerInvariant();
            lines.Add(fb.State switch
            {
                FeedbackState.Sending => ($"{word}: sending…", t.TextDim),
                FeedbackState.Stored => ($"{word}: stored on the host (profile {state.Profile})", t.Good),
                _ => ($"{word}: not stored: {fb.Error}", t.Bad),
            });
        }
        return lines;
    }

    static void LetterTag(Ui.Ui ui, JudgedSegment s, SKRect img)
    {
        var m = s.Segment.Mask;
        if (m.Width == 0) return;
        var b = s.Segment.Box;
        float x = img.Left + (float)(b.X / m.Width) * img.Width, y = img.Top + (float)(b.Y / m.Height) * img.Height;
        var tag = new SKRect(x, y, x + 13, y + 13);
        ui.FillRect(tag, SegmentOverlay.Tint(s.Verdict), 2);
        ui.DrawTextIn(SegmentOverlay.Letter(s.Verdict), tag, SKColors.Black, ui.SmallFont, SKTextAlign.Center);
    }
}
