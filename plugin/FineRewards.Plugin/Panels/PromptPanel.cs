using System.Globalization;
using FineRewards.Contracts;
using FineRewards.Plugin.Client;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// The Generate tab. <see cref="Form"/> (it scrolls): pack, prompt, negative prompt, K, seed policy
/// and seed, sampler/steps/guidance (folded), the pack's rewards and how they combine, LoRAs.
/// <see cref="Actions"/> (pinned, so it is always in view): Generate and Cancel, the current job's
/// progress, and why Generate is refused (the host's prompt check) or why the job failed.
/// </summary>
public static class PromptPanel
{
    public static readonly string[] SeedPolicies = ["fixed", "random", "increment"];
    public static readonly string[] CombineNames = ["ARL", "sum", "normalized", "single"];
    /// <summary>How long the prompt must stay unchanged before the host is asked about it.</summary>
    public static readonly TimeSpan CheckDelay = TimeSpan.FromMilliseconds(350);

    /// <summary>What the form says Generate would send, and whether it may.</summary>
    public sealed record Pending(IReadOnlyList<string> Rewards, IReadOnlyList<LoraReference> Loras, string Sampler, PromptCheck? Refusal);

    public static Pending Form(Ui.Ui ui, PromptState p, ClientSnapshot snapshot, IHostClient client)
    {
        var t = ui.Theme;
        var host = snapshot.Connection.Host;
        if (host is { Packs.Count: > 1 })
        {
            var names = host.Packs.Select(k => k.Name).ToList();
            int at = Math.Max(0, names.IndexOf(p.Pack.Length == 0 ? host.DefaultPack : p.Pack));
            ui.Label("Pack", t.TextDim, ui.SmallFont);
            // Every pack the host has, a pack it cannot run marked so: choosing it shows the host's message and fix.
            var labels = host.Packs.Select(k => k.Ready ? k.Name : $"{k.Name} ({k.State})").ToList();
            if (ui.Segmented("prompt.pack", labels, ref at)) p.Pack = names[at];
            ui.Tooltip("The host's model packs; each has its own rewards and samplers.");
        }
        var pack = host?.Pack(p.Pack);

        ui.Label("Prompt", t.TextDim, ui.SmallFont);
        ui.TextField("prompt.text", ref p.Prompt, "a red circle above a blue square", maxLength: 500);
        AskAboutPrompt(ui, p, snapshot, client);
        var refusal = Refusal(p, snapshot);
        ui.Label("Negative prompt", t.TextDim, ui.SmallFont);
        ui.TextField("prompt.negative", ref p.Negative, "what to avoid (optional)", maxLength: 500);

        int maxK = Math.Max(1, host?.MaxK ?? 16);
        ui.Slider("prompt.k", "candidates K", ref p.K, 1, maxK, 1, "0");
        ui.Tooltip("How many candidates to generate; the rewards rank them and the best is marked.");
        ui.Segmented("prompt.seedpolicy", SeedPolicies, ref p.SeedPolicy);
        ui.BeginRow();
        ui.Label("seed", t.TextDim, width: 40);
        ui.TextField("prompt.seed", ref p.Seed, "0", c => char.IsAsciiDigit(c), maxLength: 18, enabled: p.SeedPolicy != 1);
        ui.EndRow();
        if (p.SeedPolicy == 1) ui.Label("the host draws the seed and reports it", t.TextDim, ui.SmallFont);

        // The engine's samplers as the host lists them; a host that lists none gets its default.
        var samplers = pack?.Samplers ?? [];
        if (p.Sampler.Length > 0 && samplers.Count > 0 && !samplers.Contains(p.Sampler)) p.Sampler = "";
        string sampler = p.Sampler.Length > 0 ? p.Sampler : samplers.Count > 0 ? samplers[0] : "";
        if (ui.Foldout("prompt.advanced", $"sampler {(sampler.Length > 0 ? sampler : "host default")}, {p.Steps:0} steps, guidance {p.Guidance.ToString("0.#", CultureInfo.InvariantCulture)}"))
        {
            if (samplers.Count > 0)
            {
                int at = Math.Max(0, IndexOf(samplers, sampler));
                if (ui.Segmented("prompt.sampler", samplers, ref at)) p.Sampler = sampler = samplers[at];
            }
            else ui.Label(host is null ? "(waiting for the host)" : "the host lists no samplers: it uses its default", t.TextDim, ui.SmallFont);
            ui.Slider("prompt.steps", "steps", ref p.Steps, 1, Math.Max(1, host?.MaxSteps ?? 100), 1, "0");
            ui.Slider("prompt.guidance", "guidance", ref p.Guidance, 1, 15, 0.5, "0.0");
        }

        ui.Label("Rewards", t.TextDim, ui.SmallFont);
        var rewards = pack?.Rewards ?? [];
        var defaults = pack?.DefaultRewards ?? [];
        if (rewards.Count == 0) ui.Label(host is null ? "(waiting for the host)" : "the pack has no rewards on this host", t.TextDim, ui.SmallFont);
        foreach (var name in rewards)
        {
            // Unticked until chosen: the pack's default set (random and other baselines only when asked for).
            bool on = p.Rewards.GetValueOrDefault(name, defaults.Contains(name));
            if (ui.Checkbox($"prompt.reward.{name}", name, ref on)) p.Rewards[name] = on;
            if (defaults.Contains(name)) ui.Tooltip("in the pack's default set");
        }
        ui.Segmented("prompt.combine", CombineNames, ref p.Combine);
        ui.Tooltip("ARL: sum of per-reward ranks, lower wins (the paper's). sum: raw scores. normalized: z-scores. single: one reward decides.");
        var chosen = rewards.Where(r => p.Rewards.GetValueOrDefault(r, defaults.Contains(r))).ToList();
        if (p.Combine == 3 && chosen.Count > 0)
        {
            p.SingleReward = Math.Clamp(p.SingleReward, 0, chosen.Count - 1);
            ui.Segmented("prompt.single", chosen, ref p.SingleReward);
        }
        var loras = LoraPicker(ui, p, snapshot);
        return new Pending(chosen, loras, sampler, refusal);
    }

    static int IndexOf(IReadOnlyList<string> list, string item)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == item) return i;
        return -1;
    }

    /// <summary>The host's refusal of the prompt as it stands, or null (accepted, or not answered yet).</summary>
    public static PromptCheck? Refusal(PromptState p, ClientSnapshot snapshot) =>
        snapshot.PromptCheck is { Ok: false } check && check.Prompt == p.Prompt.Trim() && check.Pack == p.Pack ? check : null;

    /// <summary>Asks the host whether the pack accepts the prompt once the text has rested for <see cref="CheckDelay"/>.</summary>
    static void AskAboutPrompt(Ui.Ui ui, PromptState p, ClientSnapshot snapshot, IHostClient client)
    {
        string prompt = p.Prompt.Trim();
        if (snapshot.Connection.State != ConnectionState.Ready || prompt.Length == 0) return;
        if (prompt != p.CheckedPrompt || p.Pack != p.CheckedPack)
        {
            p.PromptChangedAt ??= ui.Time;
            var waited = ui.Time - p.PromptChangedAt.Value;
            if (waited >= CheckDelay)
            {
                client.CheckPrompt(p.Pack, prompt);
                (p.CheckedPrompt, p.CheckedPack, p.PromptChangedAt) = (prompt, p.Pack, null);
            }
            else ui.RepaintWithin(CheckDelay - waited);
        }
    }

    /// <summary>
    /// The chosen pack when the host lists it as not ready (missing files, failed, loading), unless the connection's own
    /// message already says so (the default pack); null when it can run.
    /// </summary>
    public static PackView? UnusablePack(PromptState p, ClientSnapshot snapshot)
    {
        var host = snapshot.Connection.Host;
        if (host is null) return null;
        var pack = host.Pack(p.Pack);
        bool saidByConnection = snapshot.Connection.State == ConnectionState.MissingModels && pack.Name == host.DefaultPack;
        return pack.Ready || saidByConnection ? null : pack;
    }

    /// <summary>The lines under Generate: what the user must know before pressing it again.</summary>
    static List<(string Text, SKColor Colour, int MaxLines)> Messages(Ui.Ui ui, ConnectionStatus connection, PromptCheck? refusal, JobView? current, PackView? unusable)
    {
        var t = ui.Theme;
        var lines = new List<(string, SKColor, int)>();
        // The status bar cuts it to one line (a docker is narrow): here it is whole, by the button it disables.
        if (connection.State is ConnectionState.Unreachable || connection.State is ConnectionState.MissingModels && unusable is null)
            lines.Add((connection.Message, t.Warning, 4));
        if (unusable is { } u)
        {
            lines.Add(($"pack {u.Name} is {u.State}" + (u.Problems.Count > 0 ? ": " + string.Join("; ", u.Problems) : ""), t.Bad, 5));
            if (u.Fix.Length > 0) lines.Add((u.Fix, t.Warning, 3));
        }
        if (refusal is { } r)
        {
            lines.Add(($"The pack cannot judge this prompt: {r.Message}", t.Bad, 4));
            if (r.Fix.Length > 0) lines.Add((r.Fix, t.Warning, 2));
        }
        if (current is { Phase: JobPhase.Failed })
        {
            lines.Add(($"failed: {current.Error}", t.Bad, 4));
            if (current.SuggestedFix is { Length: > 0 } fix) lines.Add((fix, t.Warning, 3));
        }
        return lines;
    }

    /// <summary>The height <see cref="Actions"/> needs at this width.</summary>
    public static float ActionsHeight(Ui.Ui ui, ConnectionStatus connection, PromptCheck? refusal, JobView? current, float width, PackView? unusable = null)
    {
        float h = 28 + ui.Theme.Spacing;
        if (current is { Phase: JobPhase.Running or JobPhase.Queued or JobPhase.Submitting }) h += 14 + ui.Theme.Spacing;
        foreach (var (text, _, max) in Messages(ui, connection, refusal, current, unusable))
            h += Math.Min(max, Ui.Ui.Wrap(text, width, ui.SmallFont, ui).Count) * ui.SmallFont.Size * 1.35f + ui.Theme.Spacing;
        return h;
    }

    /// <returns>Parameters to generate with when Generate was pressed (or Enter in the prompt), else null.</returns>
    public static JobParameters? Actions(Ui.Ui ui, PromptState p, Pending pending, ClientSnapshot snapshot, JobView? current, IHostClient client)
    {
        var t = ui.Theme;
        var connection = snapshot.Connection;
        bool running = current is { Finished: false };
        var unusable = UnusablePack(p, snapshot);
        // A ready pack other than a missing default one still runs: the host serves each pack on its own.
        var host = connection.Host;
        bool otherPackReady = host is not null && host.Pack(p.Pack) is { Ready: true } picked && picked.Name != host.DefaultPack;
        bool ready = (connection.State == ConnectionState.Ready || connection.State == ConnectionState.MissingModels && otherPackReady) && unusable is null;
        bool canGenerate = ready && !running && p.Prompt.Trim().Length > 0 && pending.Rewards.Count > 0 && pending.Refusal is null;
        ui.BeginRow(28);
        bool generate = ui.Button("prompt.generate", running ? "Generating…" : "Generate", canGenerate, width: 130, primary: true);
        // Above the button: below it is the progress this tooltip is about.
        if (!canGenerate)
            ui.Tooltip(unusable is { } u ? $"pack {u.Name} is {u.State}" : !ready ? connection.Message : running ? "a job is running" : pending.Refusal is { } r ? r.Message
                : p.Prompt.Trim().Length == 0 ? "write a prompt first" : "choose at least one reward", above: true);
        if (ui.Button("prompt.cancel", "Cancel", running)) client.Cancel(current!.JobId);
        ui.EndRow();
        if (ui.Submitted == "prompt.text" && canGenerate) generate = true;

        if (current is { Phase: JobPhase.Running or JobPhase.Queued or JobPhase.Submitting })
        {
            ui.BeginRow(14);
            var bar = ui.Allocate(Math.Max(40, ui.Remaining.Width * 0.45f), 6);
            bar = new SKRect(bar.Left, bar.Top + 4, bar.Right, bar.Top + 10);
            ui.FillRect(bar, t.Widget, 3);
            if (current.Steps > 0)
                ui.FillRect(new SKRect(bar.Left, bar.Top, bar.Left + bar.Width * current.Step / current.Steps, bar.Bottom), t.Accent, 3);
            ui.DrawTextIn(CandidatesPanel.PhaseText(current), ui.Allocate(0, 14), t.TextDim, ui.SmallFont);
            ui.EndRow();
        }
        foreach (var (text, colour, max) in Messages(ui, connection, pending.Refusal, current, unusable)) ui.Paragraph(text, colour, ui.SmallFont, maxLines: max);

        if (!generate) return null;
        long.TryParse(p.Seed, NumberStyles.None, CultureInfo.InvariantCulture, out long seed);
        var chosen = pending.Rewards;
        return new JobParameters(
            p.Prompt.Trim(), p.Negative.Trim(), (int)p.K,
            p.SeedPolicy switch { 0 => SeedPolicy.Fixed, 2 => SeedPolicy.Increment, _ => SeedPolicy.Random },
            seed, pending.Sampler, (int)p.Steps, p.Guidance, p.Width, p.Height,
            chosen, (CombineChoice)p.Combine, p.Combine == 3 && chosen.Count > 0 ? chosen[Math.Clamp(p.SingleReward, 0, chosen.Count - 1)] : "",
            pending.Loras.Count > 0 ? pending.Loras : null, p.Pack);
    }

    /// <summary>
    /// The host's LoRAs (ListLoras), each with a checkbox and, when on, its scale. Returns the chosen
    /// ones as generation sends them: by LoRA id, which the host resolves to its file.
    /// </summary>
    static List<LoraReference> LoraPicker(Ui.Ui ui, PromptState p, ClientSnapshot snapshot)
    {
        var t = ui.Theme;
        ui.Label("LoRA", t.TextDim, ui.SmallFont);
        var chosen = new List<LoraReference>();
        if (snapshot.Connection.Host is null) { ui.Label("(waiting for the host)", t.TextDim, ui.SmallFont); return chosen; }
        if (snapshot.LorasProblem is { } problem) ui.Paragraph(problem, t.Warning, ui.SmallFont, maxLines: 2);
        if (snapshot.Loras.Count == 0)
        {
            if (snapshot.LorasProblem is null) ui.Label("none yet: train one in the Training tab", t.TextDim, ui.SmallFont);
            return chosen;
        }
        foreach (var lora in snapshot.Loras)
        {
            var pick = p.Loras.TryGetValue(lora.LoraId, out var known) ? known : p.Loras[lora.LoraId] = new LoraPick();
            string id = $"prompt.lora.{lora.LoraId}";
            ui.Checkbox(id, LoraLabel(lora), ref pick.On);
            ui.Tooltip(LoraDetails(lora));
            if (!pick.On) continue;
            ui.Slider($"{id}.scale", "  scale", ref pick.Scale, 0, 2, 0.05, "0.00");
            chosen.Add(new LoraReference(lora.LoraId, pick.Scale));
        }
        return chosen;
    }

    /// <summary>A LoRA as people tell them apart: whose, when, on how much; the id is in <see cref="LoraDetails"/>.</summary>
    public static string LoraLabel(LoraView lora)
    {
        string size = lora.Metrics.TryGetValue("pairs", out double pairs) ? $" · {pairs.ToString("0", CultureInfo.InvariantCulture)} image{(pairs == 1 ? "" : "s")}" : "";
        return $"{lora.ProfileId} · {lora.Created.ToUniversalTime():MM-dd HH:mm}{size}{(lora.Active ? " · active" : "")}";
    }

    public static string LoraDetails(LoraView lora) =>
        $"LoRA {lora.LoraId}\nprofile {lora.ProfileId}{(lora.Active ? " (its active LoRA)" : "")}, trained {lora.Created.ToUniversalTime():yyyy-MM-dd HH:mm} UTC\n" +
        string.Join(", ", lora.Metrics.Select(m => $"{m.Key} {m.Value.ToString("0.####", CultureInfo.InvariantCulture)}")) + $"\nsha256 {lora.Sha256}";
}
