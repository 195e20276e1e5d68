using FineRewards.Core.Contracts;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// The focused candidate: its image with the segment overlay (toggle per verdict; label, verdict and
/// confidence on hover), the caption, each reward's score and rank, and accept / reject / send edited.
/// </summary>
public static class BreakdownPanel
{
    static readonly Verdict[] Verdicts = [Verdict.Certain, Verdict.May, Verdict.Unlikely];

    public static void Draw(Ui.Ui ui, PluginState state, IHostClient client, IEditorHost editor, JobView? job, SegmentOverlay overlay,
        SKRect rect, List<EditorRequest> requests)
    {
        var t = ui.Theme;
        int? index = job is null ? null : state.Focused ?? state.PickedOf(job);
        var c = job is not null && index is int ix && ix < job.Candidates.Length ? job.Candidates[ix] : null;
        ui.BeginPanel(rect, c is null ? "Breakdown" : $"Breakdown — candidate {c.Index}");
        if (job is null || c is null)
        {
            ui.Paragraph("Click a candidate to see why it ranked where it did: caption, per-reward scores and ranks, and each segment's verdict.", t.TextDim);
            ui.EndPanel();
            return;
        }

        ui.BeginScroll("breakdown.scroll", ui.Remaining);
        var segments = c.Rewards.SelectMany(r => r.Segments).ToList();
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
            int n = segments.IndexOf(hovered);
            ui.TooltipAt($"{hovered.Segment.Label}\n{hovered.Verdict.Word()} ({SegmentOverlay.Letter(hovered.Verdict)}, {SegmentOverlay.Pattern(hovered.Verdict)}) · confidence {hovered.Segment.Confidence:0.00}",
                new SKPoint(hit.Pointer.X + 14, hit.Pointer.Y + 18), $"breakdown.segment.{c.Index}.{n}");
        }

        // Legend with toggles: pattern swatch, letter and word, count.
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

        ui.Separator();
        ui.Label($"seed {c.Seed} · rank {job.RankOf(c.Index)?.ToString() ?? "–"} of {job.Parameters.K} · total {CandidatesPanel.Fmt(c.Total)}", t.Text, ui.SmallFont);
        foreach (var r in c.Rewards.Where(r => r.Caption is not null))
            ui.Paragraph($"{r.Reward} caption: “{r.Caption}”", t.Text, ui.SmallFont, maxLines: 3);
        foreach (var r in c.Rewards)
        {
            var bar = ui.Allocate(0, 14);
            CandidatesPanel.DrawRewardBar(ui, r, job.Parameters.K, bar);
            if (r.Flags.Count > 0) ui.Label($"{r.Reward}: {string.Join(", ", r.Flags)}", t.Warning, ui.SmallFont);
        }

        ui.Separator();
        int? picked = state.PickedOf(job);
        ui.BeginRow();
        if (ui.Button("breakdown.pick", picked == c.Index ? "✓ picked" : "Use this one", enabled: picked != c.Index, width: 110))
            state.Picks[job.JobId] = c.Index;
        if (ui.Button("breakdown.accept", "Accept → layer", enabled: c.Image is not null, primary: true))
        {
            requests.Add(new PlaceLayerRequest($"{job.Parameters.Prompt} (seed {c.Seed})", c.Image!));
            state.FeedbackIds[(job.JobId, c.Index)] = client.SendFeedback(job.JobId, c.Index, FeedbackChoice.Accepted, state.Profile);
            state.Notice = $"placed candidate {c.Index} as a new layer";
        }
        ui.Tooltip("Places the image as a new layer and tells the host you kept it (training data for the profile).");
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
        if (state.FeedbackIds.TryGetValue((job.JobId, c.Index), out var fid) && client.Snapshot.Feedback.FirstOrDefault(f => f.FeedbackId == fid) is { } fb)
        {
            string word = fb.Choice.ToString().ToLowerInvariant();
            var (text, colour) = fb.State switch
            {
                FeedbackState.Sending => ($"{word}: sending…", t.TextDim),
                FeedbackState.Stored => ($"{word}: stored on the host (profile {state.Profile})", t.Good),
                _ => ($"{word}: not stored: {fb.Error}", t.Bad),
            };
            ui.Paragraph(text, colour, ui.SmallFont);
        }
        ui.EndScroll();
        ui.EndPanel();
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
