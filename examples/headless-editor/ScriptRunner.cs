using System.Diagnostics;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Plugin;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Examples.HeadlessEditor;

/// <summary>
/// Replays a scripted session: a JSON array of steps, each one object with one action, e.g.
/// <c>{"click": "prompt.generate"}</c>, <c>{"type": "a red circle"}</c>, <c>{"key": "Enter"}</c>,
/// <c>{"move": [x, y]}</c>, <c>{"hover": "widget"}</c> or <c>{"hover": [x, y]}</c> (move and hover take either), <c>{"hover_segment": "certain"}</c>,
/// <c>{"wheel": "widget", "dy": 120}</c>, <c>{"wait_ms": 600}</c>,
/// <c>{"wait_until": "ready|job_finished|feedback_stored|training_finished|lora_listed", "timeout_ms": 30000}</c>.
/// After every step one frame is drawn and written as frame_NNNN.png.
/// </summary>
public sealed class ScriptRunner(FineRewardsPlugin plugin, HeadlessDocument document, string outDir, float width, float height, float scale, TextWriter log)
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly List<InputEvent> pending = [];
    int frames;

    public int Frames => frames;
    public FrameOutput? Last { get; private set; }

    public static IReadOnlyList<JsonElement> Load(string path)
    {
        if (!File.Exists(path)) throw new InputException("--script", $"{path} does not exist");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InputException(path, "expected a JSON array of steps");
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    public async Task RunAsync(IReadOnlyList<JsonElement> steps)
    {
        Directory.CreateDirectory(outDir);
        var size = FrameInputs.DeviceSize(width, height, scale);
        using var bitmap = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKImageInfo.PlatformColorType, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        Draw(canvas, bitmap); // the first frame lays out the widgets the script aims at
        for (int i = 0; i < steps.Count; i++)
        {
            string field = $"script[{i}]";
            var step = steps[i];
            if (step.ValueKind != JsonValueKind.Object) throw new InputException(field, "expected an object with one action");
            var action = step.EnumerateObject().First();
            log.WriteLine($"step {i} at {clock.ElapsedMilliseconds} ms: {action.Name} {action.Value}");
            switch (action.Name)
            {
                case "move" or "hover": { var (x, y) = Target(action.Value, field); pending.Add(new PointerMoved(x, y)); break; }
                case "click":
                {
                    var (x, y) = Target(action.Value, field);
                    pending.AddRange([new PointerMoved(x, y), new PointerPressed(x, y), new PointerReleased(x, y)]);
                    break;
                }
                case "type": pending.Add(new TextEntered(action.Value.GetString() ?? "")); break;
                case "key":
                    if (!Enum.TryParse<Key>(action.Value.GetString(), out var key))
                        throw new InputException($"{field}.key", $"\"{action.Value}\" is not one of {string.Join(", ", Enum.GetNames<Key>())}");
                    pending.Add(new KeyPressed(key));
                    break;
                case "wheel":
                {
                    var r = Widget(Text(action.Value, field), field);
                    float dy = step.TryGetProperty("dy", out var d) ? d.GetSingle() : 60;
                    pending.Add(new WheelScrolled(r.MidX, r.MidY, 0, dy));
                    break;
                }
                case "hover_segment": { var (x, y) = SegmentPoint(Text(action.Value, field), field); pending.Add(new PointerMoved(x, y)); break; }
                case "wait_ms": await Task.Delay(action.Value.GetInt32()); break;
                case "wait_until":
                {
                    int timeout = step.TryGetProperty("timeout_ms", out var t) ? t.GetInt32() : 30_000;
                    var condition = Condition(Text(action.Value, field), field);
                    var end = DateTime.UtcNow.AddMilliseconds(timeout);
                    while (!condition())
                    {
                        if (DateTime.UtcNow > end)
                            throw new TimeoutException($"{field}: \"{action.Value}\" did not happen within {timeout} ms; host: {plugin.Client.Snapshot.Connection.Message}");
                        await Task.Delay(50);
                        Draw(canvas, bitmap, save: false);
                    }
                    break;
                }
                default: throw new InputException(field, $"unknown action \"{action.Name}\"; expected move, hover, click, type, key, wheel, hover_segment, wait_ms or wait_until");
            }
            Draw(canvas, bitmap);
        }
    }

    Func<bool> Condition(string name, string field) => name switch
    {
        "ready" => () => plugin.Client.Snapshot.Connection.State == ConnectionState.Ready,
        "job_finished" => () => plugin.State.CurrentJob is { } j && plugin.Client.Snapshot.Jobs.TryGetValue(j, out var job) && job.Finished,
        "feedback_stored" => () => plugin.Client.Snapshot.Feedback.Count > 0 && plugin.Client.Snapshot.Feedback.All(f => f.State != FeedbackState.Sending),
        "training_finished" => () => plugin.State.Training.Current is { } t && plugin.Client.Snapshot.Trainings.TryGetValue(t, out var training) && training.Finished,
        "lora_listed" => () => plugin.State.Training.Current is { } t && plugin.Client.Snapshot.Trainings.TryGetValue(t, out var training)
                               && training.LoraId is { } lora && plugin.Client.Snapshot.Loras.Any(l => l.LoraId == lora),
        _ => throw new InputException($"{field}.wait_until", $"\"{name}\" is not ready, job_finished, feedback_stored, training_finished or lora_listed"),
    };

    void Draw(SKCanvas canvas, SKBitmap bitmap, bool save = true)
    {
        var output = plugin.Frame(canvas, new FrameInput(width, height, scale, pending.ToList(), clock.Elapsed));
        canvas.Flush();
        pending.Clear();
        foreach (var request in output.Requests) request.Apply(document);
        Last = output;
        if (!save) return;
        frames++;
        // zlib level 1: frames are many and large; a few percent bigger files, several times faster.
        using var pixmap = bitmap.PeekPixels() ?? throw new InvalidOperationException("the frame bitmap has no pixels");
        using var data = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 1))
            ?? throw new InvalidOperationException("SkiaSharp could not encode the frame as PNG");
        AtomicFile.WriteAllBytes(Path.Combine(outDir, $"frame_{frames:0000}.png"), data.AsSpan());
        if (output.Tooltip is { } tip) log.WriteLine($"  tooltip: {tip.Replace('\n', ' ')}");
    }

    SKRect Widget(string id, string field)
    {
        if (!plugin.Ui.VisibleRects.TryGetValue(id, out var r))
            throw new InputException(field, $"no widget \"{id}\" on screen; visible: {string.Join(", ", plugin.Ui.VisibleRects.Where(w => !w.Value.IsEmpty).Select(w => w.Key).Take(40))}");
        if (r.IsEmpty) throw new InputException(field, $"widget \"{id}\" is scrolled out of view (a larger --size, or a wheel step first)");
        return r;
    }

    static (float, float) Centre(SKRect r) => (r.MidX, r.MidY);

    /// <summary>A widget id (its centre) or [x, y] in logical pixels.</summary>
    (float, float) Target(JsonElement e, string field) =>
        e.ValueKind == JsonValueKind.String ? Centre(Widget(e.GetString()!, field)) : Point(e, field);

    static string Text(JsonElement e, string field) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new InputException(field, $"expected a string, found {e.ValueKind.ToString().ToLowerInvariant()} {e}");

    static (float, float) Point(JsonElement e, string field)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2 || e[0].ValueKind != JsonValueKind.Number || e[1].ValueKind != JsonValueKind.Number)
            throw new InputException(field, $"expected a widget id or [x, y] in logical pixels, found {e}");
        return (e[0].GetSingle(), e[1].GetSingle());
    }

    /// <summary>The centre of the first segment with that verdict in the breakdown's image.</summary>
    (float, float) SegmentPoint(string verdictWord, string field)
    {
        var verdict = VerdictValues.Parse(verdictWord);
        var snapshot = plugin.Client.Snapshot;
        var job = plugin.State.CurrentJob is { } id ? snapshot.Jobs.GetValueOrDefault(id) : null;
        int? index = job is null ? null : plugin.State.Focused ?? plugin.State.PickedOf(job);
        var candidate = job is not null && index is int i ? job.Candidates[i] : null;
        var segment = candidate?.Rewards.SelectMany(r => r.Segments).FirstOrDefault(s => s.Verdict == verdict)
            ?? throw new InputException(field, $"the breakdown shows no {verdictWord} segment");
        var img = Widget("breakdown.image", field);
        var b = segment.Segment.Box;
        var m = segment.Segment.Mask;
        return (img.Left + (float)((b.X + b.Width / 2) / m.Width) * img.Width, img.Top + (float)((b.Y + b.Height / 2) / m.Height) * img.Height);
    }
}
