using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Server.Models;

namespace FineRewards.Server.Jobs;

/// <summary>A submit request as the client sent it: zero or empty means "the default".</summary>
public sealed record GenerationSubmission(
    string JobId,
    string ClientId,
    string Prompt,
    string NegativePrompt,
    int K,
    SeedPolicy? SeedPolicy,
    long BaseSeed,
    string Sampler,
    int Steps,
    double Guidance,
    int Width,
    int Height,
    string Pack,
    IReadOnlyList<LoraReference> Loras,
    IReadOnlyList<string> Rewards,
    CombineKind? Combine,
    string SingleReward,
    IReadOnlyDictionary<string, double> Weights,
    PreviewPolicy Preview);

/// <summary>
/// Checks a submission against the host's limits and models before anything is queued, and fills
/// in the defaults. Every problem is an <see cref="InputException"/> naming the request field.
/// </summary>
public static class SubmissionValidator
{
    public const int MaxClientIdLength = 200;
    public const double MaxGuidance = 50;
    public const double MaxLoraScale = 4;

    public static string NormalizeJobId(string jobId, string field = "job_id")
    {
        if (string.IsNullOrWhiteSpace(jobId)) throw new InputException(field, "missing; the client chooses a UUID for each job");
        if (!Guid.TryParse(jobId, out var id)) throw new InputException(field, $"\"{Clip(jobId)}\" is not a UUID");
        return id.ToString("D");
    }

    public static (string JobId, string ClientId, GenerationJobSpec Spec) Validate(GenerationSubmission s, HostLimits limits, ModelCatalog catalog)
    {
        string jobId = NormalizeJobId(s.JobId);
        string clientId = string.IsNullOrWhiteSpace(s.ClientId) ? "anonymous" : s.ClientId.Trim();
        if (clientId.Length > MaxClientIdLength) throw new InputException("client_id", $"{clientId.Length} characters; at most {MaxClientIdLength}");

        var (pack, prompt, capabilities) = CheckPrompt(s.Pack, s.Prompt, limits, catalog);
        // What the request leaves out is the pack's own choice (an SD 1.5 checkpoint draws 512 x 512, the
        // Shapes pack 64 x 64), not one number for every model.
        var defaults = catalog.Pack(pack).DefaultGeneration;
        if (s.NegativePrompt.Length > limits.MaxPromptLength)
            throw new InputException("negative_prompt", $"{s.NegativePrompt.Length} characters exceeds the host's limit of {limits.MaxPromptLength}");

        if (s.K < 1) throw new InputException("k", $"{s.K}; generate at least 1 candidate");
        if (s.K > limits.MaxK) throw new InputException("k", $"{s.K} candidates exceeds the host's limit of {limits.MaxK}");
        if (s.BaseSeed < 0) throw new InputException("base_seed", $"{s.BaseSeed} is negative; seeds are 0 or more");
        // Candidate i uses base_seed + i: refused rather than wrapped to a negative seed.
        if (s.BaseSeed > long.MaxValue - (s.K - 1))
            throw new InputException("base_seed", $"{s.BaseSeed} + {s.K - 1} passes the largest seed, {long.MaxValue} (candidate i uses base_seed + i)");

        string sampler = s.Sampler.Length == 0 ? defaults.Sampler : s.Sampler;
        if (sampler.Length > 64 || !sampler.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '+'))
            throw new InputException("sampler", $"\"{Clip(sampler)}\" is not a sampler name (letters, digits, _ - +)");
        if (capabilities.Samplers is { Count: > 0 } samplers && !samplers.Contains(sampler))
            throw new InputException("sampler", $"\"{Clip(sampler)}\" is not a sampler of pack \"{pack}\"; expected one of {string.Join(", ", samplers)}");

        int steps = s.Steps == 0 ? defaults.Steps : s.Steps;
        if (steps < 1) throw new InputException("steps", $"{s.Steps}; at least 1");
        if (steps > limits.MaxSteps) throw new InputException("steps", $"{steps} exceeds the host's limit of {limits.MaxSteps}");

        double guidance = s.Guidance == 0 ? defaults.Guidance : s.Guidance;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > MaxGuidance)
            throw new InputException("guidance", $"{s.Guidance} is not a number from 0 to {MaxGuidance}");

        int width = Size(s.Width, defaults.Width, limits.MaxWidth, "width");
        int height = Size(s.Height, defaults.Height, limits.MaxHeight, "height");

        for (int i = 0; i < s.Loras.Count; i++)
        {
            var lora = s.Loras[i];
            if (string.IsNullOrWhiteSpace(lora.Path)) throw new InputException($"loras[{i}].name", "empty");
            if (!File.Exists(lora.Path)) throw new InputException($"loras[{i}].name", $"no LoRA file at \"{Clip(lora.Path)}\"");
            if (!double.IsFinite(lora.Scale) || Math.Abs(lora.Scale) > MaxLoraScale)
                throw new InputException($"loras[{i}].scale", $"{lora.Scale} is not a number from -{MaxLoraScale} to {MaxLoraScale}");
        }

        // Without a choice, the pack's declared default set: a baseline such as random only when asked for.
        var known = capabilities.Rewards!;
        var rewards = s.Rewards.Count == 0 ? capabilities.DefaultRewards!.ToList() : s.Rewards.ToList();
        if (rewards.Count == 0) throw new InputException("rewards", $"pack \"{pack}\" has no reward to rank with on this host; name one of: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
        for (int i = 0; i < s.Rewards.Count; i++)
        {
            if (!known.Contains(s.Rewards[i]))
                throw new InputException($"rewards[{i}]", $"unknown reward \"{Clip(s.Rewards[i])}\"; pack \"{pack}\" can be scored with: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
            if (s.Rewards.Take(i).Contains(s.Rewards[i])) throw new InputException($"rewards[{i}]", $"\"{s.Rewards[i]}\" is listed twice");
        }

        var combine = (s.Combine ?? CombineKind.Arl) switch
        {
            CombineKind.Single when !rewards.Contains(s.SingleReward) =>
                throw new InputException("single_reward", $"\"{Clip(s.SingleReward)}\" is not one of the job's rewards ({string.Join(", ", rewards)})"),
            CombineKind.Single => CombineMethod.Single(s.SingleReward),
            CombineKind.Sum => CombineMethod.Sum,
            CombineKind.Normalized => CombineMethod.Normalized,
            _ => CombineMethod.Arl,
        };

        var weights = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (reward, weight) in s.Weights)
        {
            if (!rewards.Contains(reward)) throw new InputException($"reward_weights.{Clip(reward)}", $"not one of the job's rewards ({string.Join(", ", rewards)})");
            if (!double.IsFinite(weight) || weight < 0) throw new InputException($"reward_weights.{reward}", $"{weight} is not a finite number >= 0");
            weights[reward] = weight;
        }

        var spec = new GenerationJobSpec(prompt, s.NegativePrompt, s.K, s.SeedPolicy ?? SeedPolicy.Fixed, s.BaseSeed, sampler, steps, guidance,
            width, height, pack, s.Loras, rewards, combine, weights, s.Preview);
        return (jobId, clientId, spec);
    }

    /// <summary>
    /// The pack and prompt as submit checks them, and the pack's capabilities: length, the pack's
    /// state, the pack's own prompt check. HostService.CheckPrompt runs exactly this.
    /// </summary>
    public static (string Pack, string Prompt, PackCapabilities Capabilities) CheckPrompt(string packName, string rawPrompt, HostLimits limits, ModelCatalog catalog)
    {
        string prompt = rawPrompt.Trim();
        if (prompt.Length == 0) throw new InputException("prompt", "empty; describe the image to generate");
        if (prompt.Length > limits.MaxPromptLength) throw new InputException("prompt", $"{prompt.Length} characters exceeds the host's limit of {limits.MaxPromptLength}");
        string pack = packName.Length == 0 ? catalog.DefaultPack : packName;
        var availability = catalog.Availability(pack)
            ?? throw new InputException("pack", $"no pack named \"{Clip(pack)}\"; packs: {string.Join(", ", catalog.Packs().Select(p => p.Name))}");
        if (availability.State is PackState.Missing or PackState.Failed)
            throw new HostException(RefusalKind.FailedPrecondition, "pack",
                $"pack \"{pack}\" is {availability.State.ToString().ToLowerInvariant()}: {string.Join("; ", availability.Problems)}");
        var capabilities = catalog.Capabilities(pack);
        catalog.Pack(pack).ValidatePrompt(prompt, "prompt");
        return (pack, prompt, capabilities);
    }

    static int Size(int value, int packDefault, int max, string field)
    {
        int size = value == 0 ? packDefault : value;
        if (size < 8 || size % 8 != 0) throw new InputException(field, $"{value}; expected a multiple of 8, at least 8");
        if (size > max) throw new InputException(field, $"{size} pixels exceeds the host's limit of {max}");
        return size;
    }

    static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
