using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using System.Diagnostics;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Jobs;

/// <summary>
/// Runs one best-of-K job: the domain's <see cref="BestOfK"/> (generate the K candidates, score them
/// under every reward, rank them) with the job's own concerns around it: each candidate stored as a
/// PNG with its parameters, skips, cancellation, and each step reported as an event.
/// </summary>
public sealed class JobRunner(ModelCatalog catalog, ImageStore images, ILogger<JobRunner> logger)
{
    /// <summary>Progress events closer together than this are dropped (never the last step).</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    public const int ThumbnailSize = 64;

    public async Task RunAsync(Job job, Action<IReadOnlyList<JobEventData>> append, CancellationToken stopping)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation.Token, stopping);
        var clock = Stopwatch.StartNew();
        var progress = new ProgressWriter(e => append([e]));
        void Finish(JobEventData last)
        {
            progress.Drain(rethrow: false); // no progress event may follow the last one
            append([last]);
        }
        try
        {
            var generator = await catalog.GeneratorAsync(job.Spec.Pack, linked.Token);
            append([new JobStartedEvent(job.Spec.Pack, job.BaseSeed)]);
            logger.LogInformation("started on pack {Pack}, base seed {Seed}", job.Spec.Pack, job.BaseSeed);
            // Models are synchronous and CPU- or GPU-bound: keep them off the request threads.
            var results = await Task.Run(() => Run(job, generator, append, progress, linked.Token), linked.Token);
            append([.. results, new JobCompletedEvent()]);   // scored, ranked and completed: one write to disk
            logger.LogInformation("completed in {Seconds:0.00} s", clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Left as running in the database: the next start marks it failed ("host restarted").
            progress.Drain(rethrow: false);
            logger.LogWarning("host stopping; job abandoned after {Seconds:0.00} s", clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            Finish(new JobCancelledEvent(JobCancelledEvent.Interrupted));
            logger.LogInformation("cancelled while running");
        }
        catch (HostException e)
        {
            Finish(new JobFailedEvent(FailureCode.PackUnavailable, e.Message,
                "run `finerewards doctor` to see which files the pack lacks, install them, and restart the host"));
            logger.LogError("failed: {Message}", e.Message);
        }
        catch (OutOfMemoryException e)
        {
            Finish(new JobFailedEvent(FailureCode.OutOfMemory, e.Message, "generate fewer candidates (k) or smaller images"));
            logger.LogError(e, "out of memory");
        }
        catch (Exception e)
        {
            Finish(new JobFailedEvent(FailureCode.ModelError, $"{e.GetType().Name}: {e.Message}",
                $"see the host log for job {job.Id}; try again, and report it if it repeats"));
            logger.LogError(e, "failed");
        }
    }

    /// <summary>Generates, stores, scores and ranks (<see cref="BestOfK"/>); returns the scored and ranked events, for the caller to append with the completed one.</summary>
    // Every event is a transaction flushed to disk, and every image a flushed file: on a busy disk each
    // costs milliseconds, so none of them waits on the models' thread. Progress is written in the
    // background, candidates are stored while the rewards score them, scored copies are written in
    // parallel, and events that belong together are appended in one transaction.
    IReadOnlyList<JobEventData> Run(Job job, IImageGenerator generator, Action<IReadOnlyList<JobEventData>> append, ProgressWriter writer, CancellationToken ct)
    {
        var spec = job.Spec;
        var rewards = spec.Rewards.Select(name => catalog.Reward(spec.Pack, name)).ToList();
        var wanted = job.BeginGeneration();
        string loraHashes = GenerationParameters.LoraHashes(spec.Loras);
        Dictionary<int, string> parameters = [];
        Task? storing = null;
        HashSet<int> dropped = [];
        BestOfKResult result;
        try
        {
            result = BestOfK.Run(generator, rewards, spec.ToRequest(job.BaseSeed),
                new BestOfKSettings(spec.Combine, spec.Weights.Count == 0 ? null : spec.Weights),
                new BestOfKHooks
                {
                    Wanted = wanted,
                    Progress = new ThrottledProgress(p => writer.Post(new StepProgressEvent(p.Step, p.Steps, p.CandidatesDone, p.Candidates))),
                    Generated = candidates =>
                    {
                        writer.Drain(rethrow: true);
                        parameters = candidates.ToDictionary(c => c.Index, c => GenerationParameters.Format(spec, job.Id, c.Index, c.Seed, c.Provenance, loraHashes));
                        storing = Task.Run(() => StoreCandidates(job, candidates, parameters, append, ct), ct);
                    },
                    Include = c => !job.IsSkipped(c.Index),
                    BeforeRanking = scored =>
                    {
                        storing!.GetAwaiter().GetResult();
                        ct.ThrowIfCancellationRequested();
                        // From here on a skip is refused; one that came while the rewards ran drops that candidate's scores.
                        dropped = job.FreezeCandidates().ToHashSet();
                        return scored.Where(c => !dropped.Contains(c.Generated!.Index)).ToList();
                    },
                }, ct);
        }
        catch when (storing is not null && !storing.IsCompleted)
        {
            // The job's last event must follow the ready events, never precede them.
            try { storing.Wait(CancellationToken.None); } catch (Exception) { }
            throw;
        }
        if (result.Ranking is not { } ranking)
        {
            storing!.GetAwaiter().GetResult();
            job.FreezeCandidates();
            return [];
        }

        var kept = result.Candidates;
        var events = new JobEventData[kept.Count + 1];
        Parallel.For(0, kept.Count, new ParallelOptions { CancellationToken = ct }, k =>
        {
            var candidate = kept[k];
            int i = candidate.Generated!.Index;
            var ranks = ranking.Candidates[k];
            var outcomes = spec.Rewards.Select(r =>
            {
                var s = candidate.Scores[r];
                return new RewardOutcome(r, s.Score, ranks.Ranks[r], s.Evidence.Caption, s.Evidence.Segments ?? [], s.Evidence.Flags ?? []);
            }).ToList();
            var scored = new CandidateScoredEvent(i, outcomes, ranks.Total, "");
            var png = PngCodec.Encode(candidate.Image, [
                new(GenerationParameters.ParametersKey, parameters[i]),
                new(GenerationParameters.BreakdownKey, GenerationParameters.Breakdown(scored, ranking.Method.ToString())),
            ]);
            string imageId = images.Put(png).Id;
            if (candidate.Generated.Latents is { } latents) images.PutLatents(imageId, latents);
            events[k] = scored with { ImageId = imageId };
        });
        var order = ranking.Order.Select(int.Parse).ToList();
        events[^1] = new JobRankedEvent(order, order[0], ranking.Method.ToString());
        logger.LogInformation("ranked by {Method}: selected candidate {Selected}{Skipped}", ranking.Method, order[0],
            dropped.Count == 0 ? "" : $" ({dropped.Count} skipped)");
        return events;
    }

    /// <summary>Writes each candidate's PNG (with its parameters) in parallel, then appends their ready events in one transaction.</summary>
    void StoreCandidates(Job job, IReadOnlyList<GeneratedCandidate> candidates, IReadOnlyDictionary<int, string> parameters,
        Action<IReadOnlyList<JobEventData>> append, CancellationToken ct)
    {
        var ready = new CandidateReadyEvent?[candidates.Count];
        Parallel.For(0, candidates.Count, new ParallelOptions { CancellationToken = ct }, p =>
        {
            var c = candidates[p];
            if (job.IsSkipped(c.Index)) return; // skipped while its batch ran: its result is dropped
            var (id, _) = images.Put(PngCodec.Encode(c.Image, [new(GenerationParameters.ParametersKey, parameters[c.Index])]));
            if (c.Latents is { } latents) images.PutLatents(id, latents);
            byte[]? thumbnail = job.Spec.Preview == PreviewPolicy.Thumbnails ? PngCodec.Encode(Thumbnail(c.Image)) : null;
            ready[p] = new CandidateReadyEvent(c.Index, c.Seed, id, thumbnail);
        });
        job.AppendUnlessSkipped(ready.OfType<CandidateReadyEvent>().Select(e => (e.CandidateIndex, (JobEventData)e)), append);
    }

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

    /// <summary>
    /// Appends progress events off the models' thread. Keeps only the newest one not yet written
    /// (progress is a level, not a log: on a slow disk the ones in between are skipped, the last
    /// step never); <see cref="Drain"/> finishes the writing before any other event of the job.
    /// </summary>
    sealed class ProgressWriter(Action<JobEventData> append)
    {
        readonly object gate = new();
        StepProgressEvent? pending;
        Task writing = Task.CompletedTask;
        bool running;
        Exception? failure;

        public void Post(StepProgressEvent e)
        {
            lock (gate)
            {
                pending = e;
                if (running) return;
                running = true;
                writing = Task.Run(Write);
            }
        }

        void Write()
        {
            while (true)
            {
                StepProgressEvent? next;
                lock (gate)
                {
                    next = pending;
                    pending = null;
                    if (next is null || failure is not null)
                    {
                        running = false;
                        return;
                    }
                }
                try { append(next); }
                catch (Exception e)
                {
                    lock (gate)
                    {
                        failure = e;
                        running = false;
                    }
                    return;
                }
            }
        }

        /// <summary>Waits until every posted event is written; with <paramref name="rethrow"/>, a failed write fails the caller.</summary>
        public void Drain(bool rethrow)
        {
            while (true)
            {
                Task current;
                lock (gate)
                {
                    if (!running) break;
                    current = writing;
                }
                current.Wait(); // Write catches its own exceptions
            }
            lock (gate)
                if (rethrow && failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Passes progress on at most every <see cref="ProgressInterval"/>, and always the last step.</summary>
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
