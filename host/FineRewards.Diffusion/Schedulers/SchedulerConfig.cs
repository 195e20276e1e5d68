using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;
using FineRewards.Core;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// The fields of a diffusers scheduler_config.json that the schedulers here use; defaults are Stable
/// Diffusion's. Keys of other scheduler classes (skip_prk_steps, solver_order, ...) are ignored.
/// </summary>
public sealed record SchedulerConfig
{
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;
    [JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 0.00085;
    [JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.012;
    /// <summary>"scaled_linear" (SD) or "linear".</summary>
    [JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "scaled_linear";
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; } = 1;
    /// <summary>DDIM only: whether the step past t=0 uses ᾱ = 1 (else ᾱ₀).</summary>
    [JsonPropertyName("set_alpha_to_one")] public bool SetAlphaToOne { get; init; }
    /// <summary>"epsilon" (SD 1.x, SD 2 base) or "v_prediction" (SD 2.x 768).</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";
    /// <summary>"leading", "linspace" or "trailing"; null = the scheduler's own default (DDIM leading, others linspace).</summary>
    [JsonPropertyName("timestep_spacing")] public string? TimestepSpacing { get; init; }
    /// <summary>DDIM only: clamp the predicted x₀ to ±<see cref="ClipSampleRange"/>.</summary>
    [JsonPropertyName("clip_sample")] public bool ClipSample { get; init; }
    [JsonPropertyName("clip_sample_range")] public double ClipSampleRange { get; init; } = 1.0;

    // Read only to refuse them: silently sampling without them would give wrong images.
    [JsonPropertyName("trained_betas")] public JsonElement? TrainedBetas { get; init; }
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }
    [JsonPropertyName("thresholding")] public bool Thresholding { get; init; }
    [JsonPropertyName("use_karras_sigmas")] public bool UseKarrasSigmas { get; init; }

    public bool IsVPrediction => PredictionType == "v_prediction";

    /// <summary>Stable Diffusion's training schedule (epsilon prediction).</summary>
    public static SchedulerConfig StableDiffusion { get; } = new();

    public static SchedulerConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "scheduler_config.json not found");
        SchedulerConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<SchedulerConfig>(File.ReadAllText(path),
                new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals });
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not a scheduler config ({e.Message})");
        }
        if (config is null) throw new InputException(path, "expected a JSON object");
        config.Validate(path);
        return config;
    }

    public void Validate(string source)
    {
        void Fail(string field, string message) => throw new InputException($"{source}: {field}", message);
        if (NumTrainTimesteps < 2) Fail("num_train_timesteps", $"must be at least 2, got {NumTrainTimesteps}");
        if (BetaSchedule is not ("scaled_linear" or "linear"))
            Fail("beta_schedule", $"expected \"scaled_linear\" or \"linear\", found \"{BetaSchedule}\"");
        if (PredictionType is not ("epsilon" or "v_prediction"))
            Fail("prediction_type", $"expected \"epsilon\" or \"v_prediction\", found \"{PredictionType}\"");
        if (TimestepSpacing is not (null or "leading" or "linspace" or "trailing"))
            Fail("timestep_spacing", $"expected \"leading\", \"linspace\" or \"trailing\", found \"{TimestepSpacing}\"");
        if (TrainedBetas is { ValueKind: not JsonValueKind.Null }) Fail("trained_betas", "explicit beta arrays are not supported");
        if (RescaleBetasZeroSnr) Fail("rescale_betas_zero_snr", "zero-terminal-SNR rescaling is not supported");
        if (Thresholding) Fail("thresholding", "dynamic thresholding is not supported");
        if (UseKarrasSigmas) Fail("use_karras_sigmas", "Karras sigmas are not supported");
    }
}
