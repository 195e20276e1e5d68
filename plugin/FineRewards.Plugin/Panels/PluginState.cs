using FineRewards.Contracts;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Panels;

public enum SideTab { Prompt, History, Training }

/// <summary>The prompt panel's fields, as the user left them.</summary>
public sealed class PromptState
{
    public string Prompt = "";
    public string Negative = "";
    public double K = 4;
    public int SeedPolicy = 1; // index into PromptPanel.SeedPolicies: fixed, random, increment
    public string Seed = "1";
    /// <summary>The sampler's name among the pack's (the host lists them); empty: the host's default.</summary>
    public string Sampler = "";
    /// <summary>The pack to generate with; empty: the host's default pack.</summary>
    public string Pack = "";
    /// <summary>The prompt the host was last asked about (CheckPrompt), and when the text last changed (the ask waits for a pause in typing).</summary>
    public string CheckedPrompt = "", CheckedPack = "";
    public TimeSpan? PromptChangedAt;
    public double Steps = GenerationDefaults.Steps;
    public double Guidance = GenerationDefaults.Guidance;
    public readonly Dictionary<string, bool> Rewards = new(StringComparer.Ordinal);
    public int Combine;
    public int SingleReward;
    /// <summary>The LoRA picker, by LoRA id: whether it is on and its scale (LoRAs the host no longer lists are not sent).</summary>
    public readonly Dictionary<string, LoraPick> Loras = new(StringComparer.Ordinal);
    /// <summary>Image size; 0 asks for the pack's own (64 x 64 for Shapes, 512 x 512 for SD 1.5), which the host fills in (no size field in the panel yet).</summary>
    public int Width, Height;

    public void Load(JobParameters p)
    {
        Prompt = p.Prompt;
        Negative = p.NegativePrompt;
        K = p.K;
        SeedPolicy = p.SeedPolicy switch { Contracts.SeedPolicy.Fixed => 0, Contracts.SeedPolicy.Increment => 2, _ => 1 };
        Seed = p.BaseSeed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Sampler = p.Sampler;
        Pack = p.Pack;
        Steps = p.Steps;
        Guidance = p.Guidance;
        Width = p.Width;
        Height = p.Height;
        Combine = (int)p.Combine;
        if (p.Rewards is { Count: > 0 } chosen)
            foreach (var name in Rewards.Keys.ToList()) Rewards[name] = chosen.Contains(name);
    }
}

public sealed class LoraPick
{
    public bool On;
    public double Scale = 1;
}

/// <summary>The training panel's fields and the round it follows.</summary>
public sealed class TrainingState
{
    /// <summary>Also generate best-of-K images for the feedback's prompts, rank them (ARL) and train on the best.</summary>
    public bool IncludeGenerated;
    /// <summary>Learn the profile's choices as preferences (objective dpo): each accepted image over the candidates rejected beside it.</summary>
    public bool Preferences;
    public double Rounds = 1;
    public double K = 4;
    public double StepsPerImage = 10;
    public string Seed = "1";
    /// <summary>The training shown in the panel (the last one started here).</summary>
    public string? Current;
    /// <summary>The LoRA the list shows as selected.</summary>
    public string? SelectedLora;
}

/// <summary>Everything the plugin remembers between frames besides the widgets' own state.</summary>
public sealed class PluginState
{
    public PromptState Prompt { get; } = new();
    public TrainingState Training { get; } = new();
    public SideTab Tab = SideTab.Prompt;
    /// <summary>The job the candidates panel shows.</summary>
    public string? CurrentJob;
    /// <summary>The candidate the breakdown shows (defaults to the picked one).</summary>
    public int? Focused;
    /// <summary>The user's choice when it differs from the host's ranking, per job.</summary>
    public readonly Dictionary<string, int> Picks = new();
    /// <summary>Which verdicts the overlays show.</summary>
    public readonly bool[] ShowVerdict = [true, true, true];
    public bool OverlayOnTiles;
    public string Profile = "default";
    /// <summary>Feedback sent from this session, by job and candidate (the latest).</summary>
    public readonly Dictionary<(string Job, int Candidate), string> FeedbackIds = new();
    public string? Notice;

    public int? PickedOf(JobView job) => Picks.TryGetValue(job.JobId, out int p) ? p : job.Selected;

    public bool Shows(Verdict v) => ShowVerdict[(int)v];
}
