using System.Globalization;
using FineRewards.Core.Contracts;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// Prompt, negative prompt, K, seed policy and seed, sampler/steps/guidance (folded), rewards and
/// how they combine, Generate and Cancel, and the current job's progress.
/// </summary>
public static class PromptPanel
{
    public static readonly string[] SeedPolicies = ["fixed", "random", "increment"];
    /// <summary>The host does not list its samplers yet (protocol gap); these are the diffusion engine's.</summary>
    public static readonly string[] Samplers = ["ddim", "euler", "euler_a", "dpmsolver"];
    public static readonly string[] CombineNames = ["ARL", "sum", "normalized", "single"];

    /// <returns>Parameters to generate with when Generate was pressed (or Enter in the prompt), else null.</returns>
    public static JobParameters? Draw(Ui.Ui ui, PromptState p, ClientSnapshot snapshot, JobView? current, IHostClient client)
    {
        var t = ui.Theme;
        var connection = snapshot.Connection;
        var host = connection.Host;
        ui.Label("Prompt", t.TextDim, ui.SmallFont);
        ui.TextField("prompt.text", ref p.Prompt, "a red circle above a blue square", maxLength: 500);
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

        if (ui.Foldout("prompt.advanced", $"sampler {Samplers[p.Sampler]}, {p.Steps:0} steps, guidance {p.Guidance.ToString("0.#", CultureInfo.InvariantCulture)}"))
        {
            ui.Segmented("prompt.sampler", Samplers, ref p.Sampler);
            ui.Slider("prompt.steps", "steps", ref p.Steps, 1, Math.Max(1, host?.MaxSteps ?? 100), 1, "0");
            ui.Slider("prompt.guidance", "guidance", ref p.Guidance, 1, 15, 0.5, "0.0");
        }

        ui.Label("Rewards", t.TextDim, ui.SmallFont);
        var rewards = host?.Rewards ?? [];
        if (rewards.Count == 0) ui.Label(host is null ? "(waiting for the host)" : "the host has no rewards", t.TextDim, ui.SmallFont);
        foreach (var name in rewards)
        {
            bool on = p.Rewards.GetValueOrDefault(name, true);
            if (ui.Checkbox($"prompt.reward.{name}", name, ref on)) p.Rewards[name] = on;
            else p.Rewards.TryAdd(name, on);
        }
        ui.Segmented("prompt.combine", CombineNames, ref p.Combine);
        ui.Tooltip("ARL: sum of per-reward ranks (the paper's). sum: raw scores. normalized: z-scores. single: one reward decides.");
        var chosen = rewards.Where(r => p.Rewards.GetValueOrDefault(r, true)).ToList();
        if (p.Combine == 3 && chosen.Count > 0)
        {
            p.SingleReward = Math.Clamp(p.SingleReward, 0, chosen.Count - 1);
            ui.Segmented("prompt.single", chosen, ref p.SingleReward);
        }
        var loras = LoraPicker(ui, p, snapshot);
        bool running = current is { Finished: false };
        bool ready = connection.State == ConnectionState.Ready;
        bool canGenerate = ready && !running && p.Prompt.Trim().Length > 0 && chosen.Count > 0;
        ui.Space(4);
        ui.BeginRow(28);
        bool generate = ui.Button("prompt.generate", running ? "Generating…" : "Generate", canGenerate, width: 130, primary: true);
        if (!canGenerate) ui.Tooltip(!ready ? connection.Message : running ? "a job is running" : chosen.Count == 0 ? "choose at least one reward" : "write a prompt first");
        if (ui.Button("prompt.cancel", "Cancel", running)) client.Cancel(current!.JobId);
        ui.EndRow();
        if (ui.Submitted == "prompt.text" && canGenerate) generate = true;

        if (current is not null)
        {
            if (current.Phase == JobPhase.Running && current.Steps > 0)
            {
                var bar = ui.Allocate(0, 6);
                ui.FillRect(bar, t.Widget, 3);
                ui.FillRect(new SkiaSharp.SKRect(bar.Left, bar.Top, bar.Left + bar.Width * current.Step / current.Steps, bar.Bottom), t.Accent, 3);
            }
            if (current.Phase == JobPhase.Failed)
            {
                ui.Paragraph($"failed: {current.Error}", t.Bad, ui.SmallFont, maxLines: 4);
                if (current.SuggestedFix is { Length: > 0 } fix) ui.Paragraph(fix, t.Warning, ui.SmallFont, maxLines: 3);
            }
        }
        if (!generate) return null;
        long.TryParse(p.Seed, NumberStyles.None, CultureInfo.InvariantCulture, out long seed);
        return new JobParameters(
            p.Prompt.Trim(), p.Negative.Trim(), (int)p.K,
            p.SeedPolicy switch { 0 => SeedPolicy.Fixed, 2 => SeedPolicy.Increment, _ => SeedPolicy.Random },
            seed, Samplers[p.Sampler], (int)p.Steps, p.Guidance, p.Width, p.Height,
            chosen, (CombineChoice)p.Combine, p.Combine == 3 && chosen.Count > 0 ? chosen[p.SingleReward] : "",
            loras.Count > 0 ? loras : null);
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
            ui.Tooltip($"LoRA {lora.LoraId}\nprofile {lora.ProfileId}{(lora.Active ? " (its active LoRA)" : "")}, trained {lora.Created.ToUniversalTime():yyyy-MM-dd HH:mm} UTC\n" +
                       string.Join(", ", lora.Metrics.Select(m => $"{m.Key} {m.Value.ToString("0.####", CultureInfo.InvariantCulture)}")) + $"\nsha256 {lora.Sha256}");
            if (!pick.On) continue;
            ui.Slider($"{id}.scale", "  scale", ref pick.Scale, 0, 2, 0.05, "0.00");
            chosen.Add(new LoraReference(lora.LoraId, pick.Scale));
        }
        return chosen;
    }

    public static string LoraLabel(LoraView lora) => $"{HostClient.Short(lora.LoraId)} · {lora.ProfileId}{(lora.Active ? " · active" : "")}";
}
