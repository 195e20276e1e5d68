using FineRewards.Core.IO;
using System.Diagnostics;
using FineRewards.Core.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Jobs;

/// <summary>
/// Runs one best-of-K job: generate the K candidates, store each as a PNG with its parameters,
/// score them under every reward, rank them (<see cref="CandidateRanker"/>), and report each step
/// as an event. The domain's one place where models are called.
/// </summary>
public sealed class JobRunner(ModelCatalog catalog, ImageStore images, ILogger<JobRunner> logger)
{
    /// <summary>Progress events closer together than this are dropped (never the last step).</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    public const int ThumbnailSize = 64;

    public async Task RunAsync(Job job, Action<JobEventData> append, CancellationToken stopping)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation.Token, stopping);
        var clock = Stopwatch.StartNew();
        try
        {
            var generator = await catalog.GeneratorAsync(job.Spec.Pack, linked.Token);
            append(new JobStartedEvent(job.Spec.Pack, job.BaseSeed));
            logger.LogInformation("started on pack {Pack}, base seed {Seed}", job.Spec.Pack, job.BaseSeed);
            // Models are synchronous and CPU- or GPU-bound: keep them off the request threads.
            await Task.Run(() => Run(job, generator, append, linked.Token), linked.Token);
            append(new JobCompletedEvent());
            logger.LogInformation("completed in {Seconds:0.00} s", clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Left as running in the database: the next start marks it failed ("host restarted").
            logger.LogWarning("host stopping; job abandoned after {Seconds:0.00} s", clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            append(new JobCancelledEvent(JobCancelledEvent.Interrupted));
            logger.LogInformation("cancelled while running");
        }
        catch (HostException e)
        {
            append(new JobFailedEvent(FailureCode.PackUnavailable, e.Message,
                "run `finerewards doctor` to see which files the pack lacks, install them, and restart the host"));
            logger.LogError("failed: {Message}", e.Message);
        }
        catch (OutOfMemoryException e)
        {
            append(new JobFailedEvent(FailureCode.OutOfMemory, e.Message, "generate fewer candidates (k) or smaller images"));
            logger.LogError(e, "out of memory");
        }
        catch (Exception e)
        {
            append(new JobFailedEvent(FailureCode.ModelError, $"{e.GetType().Name}: {e.Message}",
                $"see the host log for job {job.Id}; try again, and report it if it repeats"));
            logger.LogError(e, "failed");
        }
    }

    void Run(Job job, IImageGenerator generator, Action<JobEventData> append, CancellationToken ct)
    {
        var spec = job.Spec;
        var progress = new ThrottledProgress(p => append(new StepProgressEvent(p.Step, p.Steps, p.CandidatesDone, p.Candidates)));
        var wanted = job.BeginGeneration();
        var candidates = Generate(generator, spec.ToRequest(job.BaseSeed), wanted, progress, ct);
        ct.ThrowIfCancellationRequested();
        if (candidates.Count != wanted.Count) throw new InvalidOperationException($"generator {generator.Name} returned {candidates.Count} candidates for {wanted.Count}");

        var parameters = new Dictionary<int, string>();
        foreach (var c in candidates)
        {
            if (job.IsSkipped(c.Index)) continue; // skipped while its batch ran: its result is dropped
            parameters[c.Index] = GenerationParameters.Format(spec, job.Id, c.Index, c.Seed, c.Provenance);
            var (id, _) = images.Put(PngCodec.Encode(c.Image, [new(GenerationParameters.ParametersKey, parameters[c.Index])]));
            byte[]? thumbnail = spec.Preview == PreviewPolicy.Thumbnails ? PngCodec.Encode(Thumbnail(c.Image)) : null;
            job.UnlessSkipped(c.Index, () => append(new CandidateReadyEvent(c.Index, c.Seed, id, thumbnail)));
        }
        if (spec.Rewards.Count == 0)
        {
            job.FreezeCandidates();
            return;
        }

        var scoring = candidates.Where(c => !job.IsSkipped(c.Index)).ToList();
        var imageList = scoring.Select(c => c.Image).ToList();
        var scores = new Dictionary<string, IReadOnlyList<RewardScore>>();
        foreach (string name in spec.Rewards)
        {
            ct.ThrowIfCancellationRequested();
            var reward = catalog.Rewards.Single(r => r.Name == name);
            var s = reward.Score(spec.Prompt, imageList, ct);
            if (s.Count != imageList.Count) throw new InvalidOperationException($"reward {name} returned {s.Count} scores for {imageList.Count} images");
            scores[name] = s;
        }
        ct.ThrowIfCancellationRequested();

        // From here on a skip is refused; one that came while the rewards ran drops that candidate's scores.
        var dropped = job.FreezeCandidates();
        var kept = Enumerable.Range(0, scoring.Count).Where(p => !dropped.Contains(scoring[p].Index)).ToList();
        var ranking = CandidateRanker.Rank(
            kept.Select(p => new CandidateScores(Id(scoring[p].Index), spec.Rewards.ToDictionary(r => r, r => scores[r][p].Score))).ToList(),
            spec.Combine, spec.Weights.Count == 0 ? null : spec.Weights);
        for (int k = 0; k < kept.Count; k++)
        {
            int p = kept[k], i = scoring[p].Index;
            var ranks = ranking.Candidates[k];
            var outcomes = spec.Rewards.Select(r =>
            {
                var e = scores[r][p].Evidence;
                return new RewardOutcome(r, scores[r][p].Score, ranks.Ranks[r], e.Caption, e.Segments ?? [], e.Flags ?? []);
            }).ToList();
            var scored = new CandidateScoredEvent(i, outcomes, ranks.Total, "");
            var png = PngCodec.Encode(imageList[p], [
                new(GenerationParameters.ParametersKey, parameters[i]),
                new(GenerationParameters.BreakdownKey, GenerationParameters.Breakdown(scored, ranking.Method.ToString())),
            ]);
            append(scored with { ImageId = images.Put(png).Id });
        }
        var order = ranking.Order.Select(int.Parse).ToList();
        append(new JobRankedEvent(order, order[0], ranking.Method.ToString()));
        logger.LogInformation("ranked by {Method}: selected candidate {Selected}{Skipped}", ranking.Method, order[0],
            dropped.Count == 0 ? "" : $" ({dropped.Count} skipped)");
    }

    /// <summary>
    /// The candidates in <paramref name="wanted"/>, by index. All K: one call (the generator batches
    /// them). Fewer (some skipped before the start): one call per run of consecutive indices, so
    /// candidate i keeps its seed base + i; provenance gets the job's k, base seed and index back.
    /// </summary>
    static List<GeneratedCandidate> Generate(IImageGenerator generator, GenerationRequest request, IReadOnlyList<int> wanted,
        IProgress<GenerationProgress> progress, CancellationToken ct)
    {
        if (wanted.Count == request.K) return generator.Generate(request, progress, ct).OrderBy(c => c.Index).ToList();
        var result = new List<GeneratedCandidate>(wanted.Count);
        for (int at = 0; at < wanted.Count;)
        {
            int first = wanted[at], length = 1;
            while (at + length < wanted.Count && wanted[at + length] == first + length) length++;
            var part = generator.Generate(request with { K = length, BaseSeed = request.BaseSeed + first },
                new OffsetProgress(progress, result.Count, wanted.Count), ct);
            result.AddRange(part.OrderBy(c => c.Index).Select(c => c with { Index = first + c.Index, Provenance = Renumbered(c.Provenance, request, first + c.Index) }));
            at += length;
        }
        return result;
    }

    /// <summary>The generator saw a run of the job as its own request; its provenance says so where it records k, base seed and index.</summary>
    static IReadOnlyDictionary<string, string> Renumbered(IReadOnlyDictionary<string, string> provenance, GenerationRequest job, int index)
    {
        var fixedUp = new Dictionary<string, string>(provenance);
        void Set(string key, long value) { if (fixedUp.ContainsKey(key)) fixedUp[key] = value.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        Set("k", job.K);
        Set("base_seed", job.BaseSeed);
        Set("candidate_index", index);
        return fixedUp;
    }

    /// <summary>Progress of one run of candidates as progress of the whole job.</summary>
    sealed class OffsetProgress(IProgress<GenerationProgress> inner, int doneBefore, int total) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => inner.Report(value with { CandidatesDone = doneBefore + value.CandidatesDone, Candidates = total });
    }

    static string Id(int index) => index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Nearest-neighbour downscale so the longer side is at most <see cref="ThumbnailSize"/>.</summary>
    static RgbImage Thumbnail(RgbImage image)
    {
        double f = Math.Min(1.0, (double)ThumbnailSize / Math.Max(image.Width, image.Height));
        int w = Math.Max(1, (int)(image.Width * f)), h = Math.Max(1, (int)(image.Height * f));
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int sx = x * image.Width / w, sy = y * image.Height / h;
                Array.Copy(image.Pixels, (sy * image.Width + sx) * 3, pixels, (y * w + x) * 3, 3);
            }
        return new RgbImage(w, h, pixels);
    }

    /// <summary>Reports synchronously (events keep their order) and at most every <see cref="ProgressInterval"/>.</summary>
    sealed class ThrottledProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        long last = long.MinValue;

        public void Report(GenerationProgress value)
        {
            long now = Stopwatch.GetTimestamp();
            bool final = value.Step >= value.Steps && value.CandidatesDone >= value.Candidates;
            if (!final && last != long.MinValue && Stopwatch.GetElapsedTime(last, now) < ProgressInterval) return;
            last = now;
            report(value);
        }
    }
}
