using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;
using FineRewards.Plugin.Panels;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin;

/// <summary>
/// The plugin as an editor embeds it: construct it with a host client and an editor adapter, call
/// <see cref="Frame"/> on the UI thread whenever it must draw (after input, after
/// <see cref="Invalidated"/>, or when the last frame asked for a repaint), and apply the requests
/// the frame returns. It never blocks: all host calls run in the client's background tasks.
/// </summary>
public sealed class FineRewardsPlugin : IDisposable
{
    public const float SideWidth = 290, BreakdownWidth = 300, StatusHeight = 26;
    /// <summary>Narrower than this (a docker, ~420 px in Krita) the plugin is one column.</summary>
    public const float DockWidth = 560;

    readonly IHostClient client;
    readonly IEditorHost editor;
    readonly SegmentOverlay overlay = new();
    readonly CurveChart chart = new();
    readonly TileCache tiles = new();
    readonly List<EditorRequest> requests = [];
    /// <summary>Where the candidates start in the docked scroll (the view jumps there on Generate).</summary>
    float dockGridY;

    /// <summary>The editor setting that keeps the profile's last training id.</summary>
    string TrainingSettingKey => $"finerewards.training.{State.Profile}";

    public Ui.Ui Ui { get; }
    public PluginState State { get; } = new();
    public HistoryStore History { get; }
    public IHostClient Client => client;

    /// <summary>Raised on a background thread when the host's state changed: schedule a frame.</summary>
    public event Action? Invalidated;

    public FineRewardsPlugin(IHostClient client, IEditorHost editor, Theme? theme = null)
    {
        this.client = client;
        this.editor = editor;
        Ui = new Ui.Ui(theme);
        History = new HistoryStore(editor);
        State.Profile = editor.ReadSetting("finerewards.profile") is { Length: > 0 } profile ? profile : "default";
        client.Changed += OnChanged;
        // The profile's last round, started in an earlier session: follow it again (from its first
        // event; the host keeps finished ones), so a restarted editor still shows its progress.
        if (editor.ReadSetting(TrainingSettingKey) is { Length: > 0 } training)
        {
            State.Training.Current = training;
            client.WatchTraining(training, new TrainingParameters(State.Profile));
        }
    }

    void OnChanged() => Invalidated?.Invoke();

    public FrameOutput Frame(SKCanvas canvas, FrameInput input)
    {
        requests.Clear();
        var output = Pass(canvas, input);
        // Widgets draw before they learn what the input did to them: draw the result once more, so
        // a frame never shows the state from before the click (a ticked box drawn unticked).
        if (Ui.HadActions)
        {
            var again = Pass(canvas, input with { Events = [] });
            output = again with { RepaintAfter = Min(output.RepaintAfter, again.RepaintAfter) };
        }
        return output with { Requests = requests.ToList() };
    }

    static TimeSpan? Min(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a < b ? a : b;

    FrameOutput Pass(SKCanvas canvas, FrameInput input)
    {
        var snapshot = client.Snapshot;
        Ui.Begin(canvas, input, clear: false);
        var job = State.CurrentJob is { } id ? snapshot.Jobs.GetValueOrDefault(id) : null;
        if (job is not null)
        {
            if (!job.Finished) Ui.RepaintWithin(TimeSpan.FromMilliseconds(500)); // progress without relying on events alone
            if (job.BaseSeed is long seed) History.Update(job.JobId, e => e.BaseSeed == seed ? e : e with { BaseSeed = seed });
            History.RememberThumbnail(job);
        }

        float w = input.Width, h = input.Height, gap = Ui.Theme.Spacing;
        StatusBar(snapshot.Connection, new SKRect(0, 0, w, StatusHeight));
        float top = StatusHeight + gap;
        if (w < DockWidth)
        {
            // A docker: one column, prompt, candidates and breakdown stacked in one scroll.
            var dock = new SKRect(gap, top, w - gap, h - gap);
            Background(new SKRect(0, StatusHeight, w, h), [dock]);
            SidePanel(snapshot, job, dock, docked: true);
            return Ui.End(requests);
        }
        // Wide windows get three columns; narrower ones stack the breakdown under the candidates.
        bool wide = w >= SideWidth + BreakdownWidth + 2 * CandidatesPanel.MinTile + 4 * gap;
        var side = new SKRect(gap, top, gap + SideWidth, h - gap);
        SKRect candidates, breakdown;
        if (wide)
        {
            breakdown = new SKRect(w - gap - BreakdownWidth, top, w - gap, h - gap);
            candidates = new SKRect(side.Right + gap, top, breakdown.Left - gap, h - gap);
        }
        else
        {
            float mid = top + (h - top) * 0.5f;
            candidates = new SKRect(side.Right + gap, top, w - gap, mid - gap / 2);
            breakdown = new SKRect(side.Right + gap, mid + gap / 2, w - gap, h - gap);
        }

        Background(new SKRect(0, StatusHeight, w, h), [side, candidates, breakdown]);
        SidePanel(snapshot, job, side, docked: false);
        CandidatesPanel.Draw(Ui, State, job, overlay, tiles, candidates);
        BreakdownPanel.Draw(Ui, State, client, editor, job, overlay, breakdown, requests);
        return Ui.End(requests);
    }

    /// <summary>
    /// Paints the background of <paramref name="area"/> around the panels (which paint their own):
    /// the strips between them and the corners their rounding leaves. Strips are derived from the
    /// panels' edges, so any arrangement of non-overlapping panels is covered.
    /// </summary>
    void Background(SKRect area, SKRect[] panels)
    {
        var fill = Ui.Theme.Background;
        float corner = Ui.Theme.Corner;
        // Horizontal bands at every panel top and bottom edge; in each band, the spans no panel covers.
        Span<float> ys = stackalloc float[2 + 2 * panels.Length];
        int n = 0;
        ys[n++] = area.Top; ys[n++] = area.Bottom;
        foreach (var p in panels) { ys[n++] = Math.Clamp(p.Top, area.Top, area.Bottom); ys[n++] = Math.Clamp(p.Bottom, area.Top, area.Bottom); }
        ys.Sort();
        Span<(float L, float R)> spans = stackalloc (float, float)[panels.Length];
        for (int b = 0; b + 1 < ys.Length; b++)
        {
            float top = ys[b], bottom = ys[b + 1];
            if (bottom - top <= 0) continue;
            int k = 0;
            foreach (var p in panels)
                if (p.Top <= top && p.Bottom >= bottom && p.Right > p.Left) spans[k++] = (p.Left, p.Right);
            spans[..k].Sort((a, c) => a.L.CompareTo(c.L));
            float x = area.Left;
            for (int i = 0; i < k; i++)
            {
                if (spans[i].L > x) Strip(x, top, spans[i].L, bottom);
                x = Math.Max(x, spans[i].R);
            }
            if (area.Right > x) Strip(x, top, area.Right, bottom);
        }
        // A pixel into the panels (drawn next) on every side, so fractional edges leave no
        // antialiased seam over the last frame's pixels.
        void Strip(float l, float t, float r, float b) =>
            Ui.FillRect(new SKRect(Math.Max(area.Left, l - 1), Math.Max(area.Top, t - 1), Math.Min(area.Right, r + 1), Math.Min(area.Bottom, b + 1)), fill);
        foreach (var p in panels)
        {
            Ui.FillRect(new SKRect(p.Left, p.Top, p.Left + corner, p.Top + corner), fill);
            Ui.FillRect(new SKRect(p.Right - corner, p.Top, p.Right, p.Top + corner), fill);
            Ui.FillRect(new SKRect(p.Left, p.Bottom - corner, p.Left + corner, p.Bottom), fill);
            Ui.FillRect(new SKRect(p.Right - corner, p.Bottom - corner, p.Right, p.Bottom), fill);
        }
    }

    /// <param name="docked">One column: the Generate tab also holds the candidates and the breakdown.</param>
    void SidePanel(ClientSnapshot snapshot, JobView? job, SKRect rect, bool docked)
    {
        Ui.FillRect(rect, Ui.Theme.Panel, Ui.Theme.Corner);
        Ui.StrokeRect(rect, Ui.Theme.PanelBorder, 1, Ui.Theme.Corner);
        Ui.BeginColumn(rect, Ui.Theme.Padding);
        int tab = (int)State.Tab;
        if (Ui.Segmented("side.tabs", ["Generate", "History", "Training"], ref tab)) State.Tab = (SideTab)tab;
        Ui.Space(2);
        switch (State.Tab)
        {
            case SideTab.Prompt:
                GenerateTab(snapshot, job, docked);
                break;
            case SideTab.History:
                HistoryPanel.Draw(Ui, State, History, client, requests);
                break;
            case SideTab.Training:
                string? before = State.Training.Current;
                TrainingPanel.Draw(Ui, State, snapshot, client, chart);
                if (State.Training.Current is { } started && started != before) editor.WriteSetting(TrainingSettingKey, started);
                break;
        }
        Ui.EndColumn();
    }

    /// <summary>The form scrolls; Generate, progress and refusals are pinned under it, always in view.</summary>
    void GenerateTab(ClientSnapshot snapshot, JobView? job, bool docked)
    {
        var area = Ui.Remaining;
        var refusal = PromptPanel.Refusal(State.Prompt, snapshot);
        float footer = PromptPanel.ActionsHeight(Ui, snapshot.Connection, refusal, job, area.Width, PromptPanel.UnusablePack(State.Prompt, snapshot));
        string scrollId = docked ? "dock.scroll" : "side.scroll";
        Ui.BeginScroll(scrollId, new SKRect(area.Left, area.Top, area.Right, Math.Max(area.Top, area.Bottom - footer - Ui.Theme.Spacing)));
        var pending = PromptPanel.Form(Ui, State.Prompt, snapshot, client);
        if (docked)
        {
            Ui.Space(4);
            var grid = Ui.Allocate(0, CandidatesPanel.Height(Ui, job, Ui.Remaining.Width));
            dockGridY = grid.Top - area.Top + Ui.ScrollOffset(scrollId);
            CandidatesPanel.Draw(Ui, State, job, overlay, tiles, grid);
            float measured = BreakdownPanel.Height(Ui, State, job);
            var breakdown = Ui.Allocate(0, measured);
            BreakdownPanel.Draw(Ui, State, client, editor, job, overlay, breakdown, requests, pinActions: false);
            // Sized from the last frame's content: draw again at once when that changed.
            if (BreakdownPanel.Height(Ui, State, job) != measured) Ui.RepaintWithin(TimeSpan.Zero);
        }
        Ui.EndScroll();
        Ui.BeginColumn(new SKRect(area.Left, area.Bottom - footer, area.Right, area.Bottom));
        if (PromptPanel.Actions(Ui, State.Prompt, pending with { Refusal = refusal }, snapshot, job, client) is { } parameters)
        {
            string jobId = client.Generate(parameters);
            History.Add(new HistoryEntry(jobId, DateTimeOffset.UtcNow, parameters));
            State.CurrentJob = jobId;
            State.Focused = null;
            State.Notice = null;
            // Docked, the new job's candidates are under the form: show them.
            if (docked) Ui.ScrollTo(scrollId, dockGridY);
        }
        Ui.EndColumn();
    }

    void StatusBar(ConnectionStatus status, SKRect rect)
    {
        var t = Ui.Theme;
        Ui.FillRect(rect, t.Panel);
        var (colour, word) = status.State switch
        {
            ConnectionState.Ready => (t.Good, "READY"),
            ConnectionState.Connecting => (t.Warning, "CONNECTING"),
            ConnectionState.MissingModels => (t.Warning, "MISSING MODELS"),
            _ => (t.Bad, "UNREACHABLE"),
        };
        Ui.Fill.Color = colour;
        Ui.Canvas.DrawCircle(rect.Left + 14, rect.MidY, 5, Ui.Fill);
        float wordW = Ui.SmallFont.MeasureText(word) + 10;
        Ui.DrawTextIn(word, new SKRect(rect.Left + 24, rect.Top, rect.Left + 24 + wordW, rect.Bottom), colour, Ui.SmallFont);
        var msg = new SKRect(rect.Left + 24 + wordW, rect.Top, rect.Right - 8, rect.Bottom);
        Ui.Interact("status", msg);
        Ui.DrawTextIn(status.Message, msg, t.Text, Ui.SmallFont);
        if (status.Problems.Count > 0) Ui.Tooltip(string.Join("\n", status.Problems));
        else Ui.Tooltip($"{status.Message}\nhost {client.Address}");
        if (status.State != ConnectionState.Ready) Ui.RepaintWithin(TimeSpan.FromSeconds(1));
    }

    public void Dispose()
    {
        client.Changed -= OnChanged;
        overlay.Dispose();
        chart.Dispose();
        tiles.Dispose();
        Ui.Dispose();
    }
}
