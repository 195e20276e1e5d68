using System.Diagnostics;
using System.Security.Cryptography;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Training;

/// <summary>A LoRA a training run made, with its evidence, before it is stored and registered.</summary>
/// <param name="Bytes">The .safetensors file.</param>
/// <param name="Evaluation">Against the base model; <see cref="LoraEvaluation.Activated"/> says whether it becomes its profile's active LoRA.</param>
public sealed record TrainedLora(byte[] Bytes, IReadOnlyDictionary<string, double> Metrics, LoraEvaluation Evaluation)
{
    /// <summary>For the log: the verdict and each reward's change.</summary>
    public string Describe() =>
        $"{Evaluation.Verdict.ToString().ToLowerInvariant()} the rewards against the base ({string.Join(", ", Evaluation.Rewards.Select(r => $"{r.Reward} {r.BaseMean:0.####} -> {r.NewMean:0.####}"))})"
        + (Evaluation.Activated ? "; made active" : "; not made active");
}

/// <summary>
/// Runs one training job on the host's models: exports the profile's accepted feedback as an
/// extra-data folder (docs/training.md), runs reward-ranked rounds with the domain's
/// <see cref="RoundEngine"/> when generated images are wanted (or trains on the feedback alone),
/// and checks the LoRA against the base model (<see cref="TrainAsync"/>); on one host it then
/// copies the LoRA into {data}/loras and registers it (<see cref="RunAsync"/>). Progress becomes numbered events.
/// </summary>
public sealed class TrainingRunner(ModelCatalog catalog, HostOptions options, FeedbackStore feedback, ImageStore images,
    TrainingDatabase db, ILogger<TrainingRunner> logger)
{
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    public string RunFolder(string id) => Path.Combine(options.DataDirectory, "training", id);
    public string LorasFolder => Path.Combine(options.DataDirectory, "loras");
    public string LoraPath(string id) => Path.Combine(LorasFolder, id + LoraNames.Extension);

    /// <summary>The feedback a profile's LoRA learns: accepted candidates and edited images, oldest first.</summary>
    public static IReadOnlyList<FeedbackRecord> TrainingFeedback(IReadOnlyList<FeedbackRecord> all) =>
        all.Where(f => f.Kind is FeedbackKind.Accepted or FeedbackKind.Edited).ToList();

    /// <summary>
    /// The preferences dpo learns from a profile's feedback: each accepted or edited image against each candidate the user
    /// rejected from the same job (the same prompt, drawn beside it), oldest first. Images from no job have none.
    /// </summary>
    public static IReadOnlyList<(FeedbackRecord Kept, FeedbackRecord Rejected)> PreferenceFeedback(IReadOnlyList<FeedbackRecord> all) =>
        TrainingFeedback(all).Where(f => f.JobId is not null)
            .SelectMany(kept => all.Where(r => r.Kind == FeedbackKind.Rejected && r.JobId == kept.JobId && r.Prompt == kept.Prompt).Select(r => (kept, r)))
            .ToList();

    public async Task RunAsync(TrainingJob job, CancellationToken stopping)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation.Token, stopping);
        var clock = Stopwatch.StartNew();
        var spec = job.Spec;
        try
        {
            var lora = await TrainAsync(job.Id, spec, feedback.List(spec.ProfileId), data => job.Append(data), linked.Token);
            string target = LoraPath(job.Id);
            AtomicFile.WriteAllBytes(target, lora.Bytes);
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(target)));
            var record = new LoraRecord(job.Id, spec.ProfileId, job.Id, target, sha, DateTimeOffset.UtcNow, lora.Evaluation.Activated, lora.Metrics, lora.Evaluation);
            job.Append(new TrainingCompletedEvent(job.Id, target, sha, lora.Evaluation), e => db.InsertLora(record, e));
            logger.LogInformation("training completed in {Seconds:0.00} s: LoRA {Lora}, {Verdict}", clock.Elapsed.TotalSeconds, target, lora.Describe());
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogWarning("host stopping; training abandoned after {Seconds:0.00} s", clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            job.Append(new TrainingCancelledEvent(JobCancelledEvent.Interrupted));
            logger.LogInformation("training cancelled while running");
        }
        catch (Exception e)
        {
            job.Append(Failed(e, $"the host log for training {job.Id}"));
            if (e is HostException or InputException) logger.LogError("training failed: {Message}", e.Message);
            else logger.LogError(e, "training failed");
        }
    }

    /// <summary>The failed event of a training that threw <paramref name="e"/>; <paramref name="log"/> says where its details are.</summary>
    public static TrainingFailedEvent Failed(Exception e, string log) => e is HostException or InputException
        ? new TrainingFailedEvent(FailureCode.PackUnavailable, e.Message, "run `finerewards doctor` to see what the pack lacks (a LoRA trainer is needed for training)")
        : new TrainingFailedEvent(FailureCode.ModelError, $"{e.GetType().Name}: {e.Message}", $"see {log}; try again, and report it if it repeats");

    /// <summary>
    /// Trains the job's LoRA on these models and checks it against the base model, reporting each step through
    /// <paramref name="append"/> (started, progress, loss, rounds; never the end). Registers nothing: the caller
    /// stores the bytes and appends the completed event (this host's registry, or a cluster's shared one).
    /// </summary>
    /// <param name="profileFeedback">The profile's feedback records; the job trains on its <see cref="TrainingJobSpec.FeedbackIds"/> among them.</param>
    /// <exception cref="OperationCanceledException">The token fired.</exception>
    public async Task<TrainedLora> TrainAsync(string id, TrainingJobSpec spec, IReadOnlyList<FeedbackRecord> profileFeedback, Action<TrainingEventData> append,
        CancellationToken cancellationToken)
    {
        var generator = await catalog.GeneratorAsync(spec.Pack, cancellationToken);
        var pack = catalog.Pack(spec.Pack);
        if (pack.Trainer is null) throw new HostException(RefusalKind.FailedPrecondition, "options.pack", $"pack \"{spec.Pack}\" has no LoRA trainer in this host");
        var runtime = new HostPackRuntime(pack, generator, name => catalog.Reward(spec.Pack, name));

        // A job resumed after a restart finds its folder: the export below writes the same files again,
        // and the round engine continues its run from the last finished step.
        string folder = RunFolder(id);
        string extra = Path.Combine(folder, "extra-data");
        Directory.CreateDirectory(extra);
        var fixedFeedback = spec.FeedbackIds is { } ids ? profileFeedback.Where(f => ids.Contains(f.Id)).ToList() : profileFeedback;
        bool preference = spec.Objective == LoraObjectives.Dpo;
        // dpo learns each accepted image against a rejected one of its job; raft learns the accepted images alone.
        List<(FeedbackRecord Kept, FeedbackRecord? Rejected)> pairs = preference
            ? PreferenceFeedback(fixedFeedback).Select(p => (p.Kept, (FeedbackRecord?)p.Rejected)).ToList()
            : TrainingFeedback(fixedFeedback).Select(f => (f, (FeedbackRecord?)null)).ToList();
        int size = pack.DefaultGeneration.Width;
        var prepared = new List<TrainingImages.Preparation>();
        (byte[] Png, CandidateLatents? Latents) Export(FeedbackRecord f)
        {
            using var png = images.Open(f.ImageId) ?? throw new HostException(RefusalKind.FailedPrecondition, "profile_id", $"feedback {f.Id}: image {f.ImageId} is gone from the host");
            using var bytes = new MemoryStream();
            png.CopyTo(bytes);
            // An editor sends whatever its canvas holds: the LoRA learns at the pack's size, not the canvas's.
            var (image, preparation) = TrainingImages.Prepare(PngCodec.Decode(bytes.ToArray(), $"feedback {f.Id}").Image, size);
            prepared.Add(preparation);
            // A generated candidate's latents describe its image only at the size it was drawn.
            return (PngCodec.Encode(image), preparation == TrainingImages.Preparation.Kept ? images.LatentsOf(f.ImageId) : null);
        }
        foreach (var (f, rejected) in pairs)
        {
            var (png, latents) = Export(f);
            var facts = new Dictionary<string, string>
            {
                ["feedback_id"] = f.Id, ["profile_id"] = f.ProfileId, ["kind"] = f.Kind.ToString().ToLowerInvariant(), ["image_id"] = f.ImageId,
                ["preparation"] = prepared[^1].ToString(),
            };
            if (rejected is not null) facts["rejected_feedback_id"] = rejected.Id;
            ExtraDataFolder.Write(extra, rejected is null ? f.Id : $"{f.Id}.vs.{rejected.Id}", f.Prompt, png, facts, latents,
                rejected is null ? null : Export(rejected));
        }
        var prompts = spec.Prompts.Count > 0 ? spec.Prompts : pairs.Select(p => p.Kept.Prompt).Distinct(StringComparer.Ordinal).ToList();
        append(new TrainingStartedEvent(spec.Pack, pairs.Count, spec.IncludeGenerated ? prompts.Count : 0, spec.Rounds,
            TrainingImages.Describe(prepared, size)));
        logger.LogInformation("training started: {Pairs} feedback pairs, {Prompts} prompts, {Rounds} rounds", pairs.Count, spec.IncludeGenerated ? prompts.Count : 0, spec.Rounds);

        var progress = new EventProgress(append);
        var (checkpoint, metrics) = await Task.Run(() => spec.IncludeGenerated
            ? Rounds(runtime, spec, folder, prompts, pairs.Count > 0 ? extra : null, progress, cancellationToken)
            : FeedbackOnly(pack.Trainer, spec, folder, extra, progress, append, cancellationToken), cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();

        // The check reads the run's checkpoint, so a job cancelled during it leaves no LoRA behind.
        var evaluation = await Task.Run(() => Guard(runtime, spec, prompts, checkpoint, progress, cancellationToken), cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        // Only a LoRA that raised the rewards becomes active on its own; the user can still choose any other.
        return new TrainedLora(File.ReadAllBytes(checkpoint), metrics, evaluation with { Activated = evaluation.Verdict == LoraVerdict.Raised });
    }

    /// <summary>The new LoRA against the base model on the job's prompts (topped up with the pack's probes), with the job's rewards.</summary>
    LoraEvaluation Guard(IModelPack runtime, TrainingJobSpec spec, IReadOnlyList<string> prompts, string lora, IRunProgress progress, CancellationToken ct)
    {
        var probes = runtime.ProbePrompts;
        var clock = Stopwatch.StartNew();
        return LoraGuard.Evaluate(runtime.RequireGenerator(), runtime.CreateRewards(spec.Rewards), prompts, probes, runtime.DefaultGeneration, spec.Seed, lora,
            (done, total) =>
            {
                if (done == 0) progress.PhaseStarted(spec.Rounds, RunPhase.Evaluate, total);
                else progress.PhaseAdvanced(spec.Rounds, RunPhase.Evaluate, done, total);
                if (done == total) progress.PhaseFinished(spec.Rounds, RunPhase.Evaluate, clock.Elapsed);
            }, ct);
    }

    static (string Checkpoint, IReadOnlyDictionary<string, double> Metrics) Rounds(IModelPack runtime, TrainingJobSpec spec, string folder,
        IReadOnlyList<string> prompts, string? extra, IRunProgress progress, CancellationToken ct)
    {
        string promptsFile = Path.Combine(folder, "prompts.txt");
        AtomicFile.WriteAllText(promptsFile, string.Concat(prompts.Select(p => p + "\n")));
        var options = new TrainingRunOptions(spec.Pack, promptsFile, spec.Rounds, spec.K, spec.Rewards, spec.Combine, spec.Seed, spec.LoraRank, spec.LoraRank,
            spec.LearningRate, spec.StepsPerRound, spec.StepsPerImage, 1, spec.FilterTop, 1.0, extra, Previews: 0,
            PromptDropout: spec.PromptDropout, LrSchedule: spec.LrSchedule, Objective: spec.Objective, DpoBeta: spec.DpoBeta);
        var manifest = new RoundEngine(runtime, progress).Run(options, Path.Combine(folder, "run"), resume: true, ct);
        var last = manifest.Rounds[^1];
        var metrics = new Dictionary<string, double>
        {
            ["rounds"] = manifest.Rounds.Count, ["pairs"] = last.TrainingPairs, ["steps"] = last.TrainingSteps, ["feedback_pairs"] = manifest.ExtraPairs,
        };
        if (last.FinalLoss is double loss) metrics["final_loss"] = loss;
        foreach (var (k, v) in last.Metrics.RewardMean) metrics[$"reward_mean.{k}"] = v;
        foreach (var (k, v) in last.Metrics.SelectedMean) metrics[$"selected_mean.{k}"] = v;
        return (Path.Combine(folder, "run", last.Checkpoint), metrics);
    }

    static (string Checkpoint, IReadOnlyDictionary<string, double> Metrics) FeedbackOnly(ILoraTrainer trainer, TrainingJobSpec spec, string folder, string extra,
        IRunProgress progress, Action<TrainingEventData> append, CancellationToken ct)
    {
        bool preference = spec.Objective == LoraObjectives.Dpo;
        var pairs = ExtraDataFolder.Read(extra).Select(p => p.ToTrainingPair(preference)).ToList();
        int steps = spec.StepsPerRound ?? spec.StepsPerImage!.Value * pairs.Count;
        double? last = null;
        var clock = Stopwatch.StartNew();
        progress.PhaseStarted(1, RunPhase.Train, steps);
        string path = trainer.Train(pairs, new LoraTrainingOptions(spec.LoraRank, spec.LoraRank, spec.LearningRate, steps, 1, RunSeeds.Training(spec.Seed, 1),
                spec.PromptDropout, spec.LrSchedule, Objective: spec.Objective, DpoBeta: spec.DpoBeta),
            Path.Combine(folder, "lora.safetensors"), new SyncProgress<TrainingProgress>(s =>
            {
                last = s.Loss;
                progress.TrainingStep(1, s);
                progress.PhaseAdvanced(1, RunPhase.Train, s.Step, s.Steps);
            }), ct);
        progress.PhaseFinished(1, RunPhase.Train, clock.Elapsed);
        // One round, as docs/host.md lists: nothing generated, so nothing kept and no reward means.
        append(new TrainingRoundEvent(1, 0, 0, pairs.Count, steps, last, new Dictionary<string, double>(), new Dictionary<string, double>()));
        var metrics = new Dictionary<string, double> { ["rounds"] = 1, ["pairs"] = pairs.Count, ["steps"] = steps, ["feedback_pairs"] = pairs.Count };
        if (last is double loss) metrics["final_loss"] = loss;
        return (path, metrics);
    }

    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>The engine's progress as training events, at most one progress and one loss event per <see cref="ProgressInterval"/> (never dropping a phase's first or last).</summary>
    sealed class EventProgress(Action<TrainingEventData> append) : IRunProgress
    {
        readonly Stopwatch phaseClock = new();
        long lastProgress = long.MinValue, lastLoss = long.MinValue;

        static bool Due(ref long last, bool final)
        {
            long now = Stopwatch.GetTimestamp();
            if (!final && last != long.MinValue && Stopwatch.GetElapsedTime(last, now) < ProgressInterval) return false;
            last = now;
            return true;
        }

        public void PhaseStarted(int round, RunPhase phase, int total)
        {
            phaseClock.Restart();
            // Each phase's first progress and first loss are always sent.
            lastProgress = long.MinValue;
            lastLoss = long.MinValue;
            append(new TrainingPhaseEvent(round, phase, 0, total, -1));
        }

        public void PhaseAdvanced(int round, RunPhase phase, int done, int total)
        {
            if (!Due(ref lastProgress, done >= total)) return;
            var eta = RunPhases.Eta(phaseClock.Elapsed, done, total);
            append(new TrainingPhaseEvent(round, phase, done, total, eta?.TotalSeconds ?? -1));
        }

        public void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed) { }

        public void TrainingStep(int round, TrainingProgress step)
        {
            if (Due(ref lastLoss, step.Step >= step.Steps)) append(new TrainingLossEvent(round, step.Step, step.Steps, step.Loss));
        }

        public void RoundFinished(RoundRecord r) => append(new TrainingRoundEvent(r.Round, r.Kept, r.Prompts, r.TrainingPairs, r.TrainingSteps,
            r.FinalLoss, r.Metrics.RewardMean, r.Metrics.SelectedMean));

        public void Message(string line) { }
    }
}
