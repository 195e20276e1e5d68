using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Ranking;
using FineRewards.Cli.Doctor;
using FineRewards.Cli.Packs;
using FineRewards.Server;
using FineRewards.Server.Hosting;
using FineRewards.Server.Storage;
using Grpc.Core;
using Grpc.Net.Client;
using Api = FineRewards.Protocol.V1;
using static TorchSharp.torch;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards bench host`: the gRPC host on the built-in Shapes pack, started as `serve` starts it
/// (same models) on a loopback port. Measures unary latency (GetCapabilities, HasImages), event
/// latency (appended on the host -> the watching client has it), and the overhead of a best-of-K
/// job through the host (SubmitGeneration, WatchJob to completed, GetImage of the selected candidate)
/// over the same job in-process (the same generator and reward objects, the same seeds, ranked by
/// CandidateRanker, no gRPC, no PNG, no database). Host and in-process runs alternate (ABBA), after
/// one warm-up pair, so drift on a busy machine hits both sides alike; the overhead is from medians.
/// </summary>
public static class BenchHostCommand
{
    /// <summary>The paper's two rewards, ranked by ARL, as a host client would ask for them.</summary>
    static readonly string[] Rewards = ["caption", "sam"];
    const long BaseSeed = 7;

    public static Command Create()
    {
        var k = new Option<int>("--k") { Description = "Candidates per job.", DefaultValueFactory = _ => 4 };
        var prompt = new Option<string>("--prompt") { Description = "The jobs' prompt (a Shapes-world prompt).", DefaultValueFactory = _ => "two red circles" };
        var repeats = new Option<int>("--repeats") { Description = "Timed host/in-process pairs, after one warm-up pair.", DefaultValueFactory = _ => 10 };
        var steps = new Option<int?>("--steps") { Description = "Sampler steps per job (default: the pack's, 20)." };
        var calls = new Option<int>("--calls") { Description = "Timed calls of each unary RPC (after 50 warm-up calls).", DefaultValueFactory = _ => 500 };
        var threads = ThreadsOption.Create();
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var command = new Command("host", "Loopback latency of the gRPC host (unary calls, events) and the overhead of a best-of-K job through the host over the same job in-process, on the built-in shapes pack.")
        {
            k, prompt, repeats, steps, calls, threads, json,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var settings = new Settings(parse.GetValue(k), parse.GetValue(prompt)!, parse.GetValue(repeats), parse.GetValue(steps), parse.GetValue(calls));
            if (settings.K < 1) throw new InputException("--k", "must be at least 1");
            if (settings.Repeats < 1) throw new InputException("--repeats", "must be at least 1");
            if (settings.Steps is < 1) throw new InputException("--steps", "must be at least 1");
            if (settings.Calls < 1) throw new InputException("--calls", "must be at least 1");
            ThreadsOption.Apply(parse, threads);
            return RunAsync(settings, parse.GetValue(json)).GetAwaiter().GetResult();
        }));
        return command;
    }

    sealed record Settings(int K, string Prompt, int Repeats, int? Steps, int Calls);

    static async Task<int> RunAsync(Settings settings, bool json)
    {
        void Say(string line) { if (!json) Console.Out.WriteLine(line); }
        using var shapes = BuiltInPacks.Registry().Resolve(Diagnostics.DefaultPack);
        shapes.RequireReady();
        shapes.ValidatePrompt(settings.Prompt, "--prompt");
        var defaults = shapes.DefaultGeneration;
        int stepCount = settings.Steps ?? defaults.Steps;

        // One generator object and one set of reward objects serve both paths; the wrappers time them.
        var timers = new ModelTimers();
        var timed = new TimedPack(shapes, timers);
        var generator = timed.Generator!;
        var models = ServeCommand.Models([timed], ServeCommand.Device());
        var rewards = timed.CreateRewards(Rewards);

        string data = Directory.CreateTempSubdirectory("finerewards-bench-host-").FullName;
        try
        {
            var options = new HostOptions(data, Port: 0, LogToConsole: false);
            await using var host = await FineRewardsHost.StartAsync(options, models);
            using var channel = GrpcChannel.ForAddress(host.Address);
            var client = new Clients(channel);
            await WaitForPackAsync(client);
            Say($"host on {host.Address} (data {data}), pack {Diagnostics.DefaultPack}, torch threads {get_num_threads()}, load average {LoadAverage()}");

            var result = new JsonObject
            {
                ["command"] = "finerewards bench host " + string.Join(' ', Environment.GetCommandLineArgs().Skip(3)),
                ["pack"] = Diagnostics.DefaultPack,
                ["torch_threads"] = get_num_threads(),
                ["processors"] = Environment.ProcessorCount,
                ["load_average_start"] = LoadAverage(),
            };

            var (capabilities, hasImages) = await UnaryAsync(client, settings.Calls);
            result["get_capabilities_ms"] = capabilities.ToJson();
            result["has_images_ms"] = hasImages.ToJson();
            Say($"GetCapabilities round trip: {capabilities}");
            Say($"HasImages round trip:       {hasImages}");

            var job = new JobSettings(settings.Prompt, settings.K, stepCount, defaults.Guidance, defaults.Sampler, defaults.Width, defaults.Height);
            Say($"best-of-{job.K} \"{job.Prompt}\", {job.Sampler} {job.Steps} steps, guidance {job.Guidance}, {job.Width}x{job.Height}, rewards {string.Join(",", Rewards)} (ARL), seed {BaseSeed}; " +
                $"{settings.Repeats} host/in-process pairs after a warm-up pair");
            var hostRuns = new List<HostRun>();
            var localRuns = new List<LocalRun>();
            var eventLatency = new List<double>();
            for (int r = 0; r <= settings.Repeats; r++)
            {
                bool warmUp = r == 0;
                // ABBA: the side that runs first alternates, so a trend in the machine's load cancels out.
                HostRun? h = null;
                LocalRun? l = null;
                // The host runs models on a thread-pool thread (JobRunner); so does the in-process job.
                if (r % 2 == 0) { h = await HostJobAsync(client, job, timers, eventLatency, warmUp); l = await Task.Run(() => LocalJob(generator, rewards, job, timers)); }
                else { l = await Task.Run(() => LocalJob(generator, rewards, job, timers)); h = await HostJobAsync(client, job, timers, eventLatency, warmUp); }
                if (h.Selected != l.Selected || !h.SelectedImage.Pixels.AsSpan().SequenceEqual(l.SelectedImage.Pixels))
                    throw new InvalidOperationException($"run {r}: the host selected candidate {h.Selected}, in-process {l.Selected} (or their pixels differ); the two paths must do the same job");
                if (warmUp) continue;
                hostRuns.Add(h);
                localRuns.Add(l);
                Say($"  pair {r}: host {h.TotalMs:F0} ms (queue {h.QueueMs:F1}, generate {h.GenerateMs:F0}, score {h.ScoreMs:F0}, host other {h.HostOtherMs:F1}, transport {h.TransportMs:F1}, get image {h.GetImageMs:F1}); " +
                    $"in-process {l.TotalMs:F0} ms (generate {l.GenerateMs:F0}, score {l.ScoreMs:F0}, rank {l.RankMs:F2})");
            }

            double hostMedian = Median(hostRuns.Select(x => x.TotalMs)), localMedian = Median(localRuns.Select(x => x.TotalMs));
            double overhead = 100 * (hostMedian - localMedian) / localMedian;
            double pairedOverhead = 100 * Median(hostRuns.Zip(localRuns, (a, b) => (a.TotalMs - b.TotalMs) / b.TotalMs));
            // The host's own time, outside the models: robust where the models' time is noisy.
            double hostSide = Median(hostRuns.Select(x => x.QueueMs + x.HostOtherMs + x.TransportMs + x.GetImageMs));
            var events = new Percentiles(eventLatency);
            result["event_latency_ms"] = events.ToJson();
            result["job"] = new JsonObject
            {
                ["prompt"] = job.Prompt, ["k"] = job.K, ["steps"] = job.Steps, ["guidance"] = job.Guidance, ["sampler"] = job.Sampler,
                ["width"] = job.Width, ["height"] = job.Height, ["rewards"] = new JsonArray(Rewards.Select(x => (JsonNode)x).ToArray()),
                ["combine"] = "arl", ["base_seed"] = BaseSeed, ["repeats"] = settings.Repeats,
                ["selected"] = hostRuns[0].Selected, ["same_selection_and_pixels"] = true,
                ["events_per_host_job_median"] = Median(hostRuns.Select(x => (double)x.Events)),
            };
            result["host_ms_median"] = Round(hostMedian);
            result["in_process_ms_median"] = Round(localMedian);
            result["overhead_percent"] = Round(overhead);
            result["overhead_percent_paired_median"] = Round(pairedOverhead);
            // Same generator, same seeds: a ratio away from 1 is the machine's noise, or the host's threads taking CPU from the models.
            result["generate_host_over_in_process_paired_median"] = Round(Median(hostRuns.Zip(localRuns, (a, b) => a.GenerateMs / b.GenerateMs)));
            result["host_side_ms_median"] = Round(hostSide);
            result["host_side_percent_of_in_process"] = Round(100 * hostSide / localMedian);
            result["host_breakdown_ms_median"] = new JsonObject
            {
                ["queue_wait"] = Round(Median(hostRuns.Select(x => x.QueueMs))),
                ["generate"] = Round(Median(hostRuns.Select(x => x.GenerateMs))),
                ["score"] = Round(Median(hostRuns.Select(x => x.ScoreMs))),
                ["host_other"] = Round(Median(hostRuns.Select(x => x.HostOtherMs))),
                ["transport"] = Round(Median(hostRuns.Select(x => x.TransportMs))),
                ["get_image"] = Round(Median(hostRuns.Select(x => x.GetImageMs))),
            };
            result["in_process_breakdown_ms_median"] = new JsonObject
            {
                ["generate"] = Round(Median(localRuns.Select(x => x.GenerateMs))),
                ["score"] = Round(Median(localRuns.Select(x => x.ScoreMs))),
                ["rank"] = Round(Median(localRuns.Select(x => x.RankMs))),
            };
            result["host_runs_ms"] = new JsonArray(hostRuns.Select(x => (JsonNode)Round(x.TotalMs)).ToArray());
            result["in_process_runs_ms"] = new JsonArray(localRuns.Select(x => (JsonNode)Round(x.TotalMs)).ToArray());
            result["load_average_end"] = LoadAverage();

            Say($"event append -> client has it: {events} ({Median(hostRuns.Select(x => (double)x.Events))} events per job)");
            Say($"best-of-{job.K} median: host {hostMedian:F0} ms, in-process {localMedian:F0} ms, overhead {overhead:F2}% (median of paired overheads {pairedOverhead:F2}%; target under 5%)");
            Say($"host breakdown (medians): {string.Join(", ", ((JsonObject)result["host_breakdown_ms_median"]!).Select(p => $"{p.Key} {p.Value} ms"))}");
            Say($"generation time host / in-process, median of pairs: {result["generate_host_over_in_process_paired_median"]}");
            Say($"host-side time outside the models (queue + host other + transport + get image): median {hostSide:F1} ms, {100 * hostSide / localMedian:F2}% of the in-process median");
            Say($"  host_other = job run on the host minus generate and score: PNG encode + SHA-256 + file write per image, SQLite event writes, ranking");
            Say($"  transport = submit to the queued event, completed event to the client, GetImage");
            Say($"load average at the end {result["load_average_end"]}");
            if (json) Console.Out.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return CliErrors.Ok;
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    sealed class Clients(GrpcChannel channel)
    {
        public Api.HostService.HostServiceClient Host { get; } = new(channel);
        public Api.GenerationService.GenerationServiceClient Jobs { get; } = new(channel);
        public Api.ImageService.ImageServiceClient Images { get; } = new(channel);
    }

    static async Task WaitForPackAsync(Clients client)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            var caps = await client.Host.GetCapabilitiesAsync(new Api.GetCapabilitiesRequest());
            var pack = caps.Packs.Single(p => p.Name == Diagnostics.DefaultPack);
            if (pack.State == Api.PackState.Ready) return;
            if (pack.State != Api.PackState.Loading)
                throw new InvalidOperationException($"pack {pack.Name} is {pack.State}: {string.Join("; ", pack.Problems)}");
            await Task.Delay(20);
        }
        throw new TimeoutException($"pack {Diagnostics.DefaultPack} did not load in 2 minutes");
    }

    static async Task<(Percentiles Capabilities, Percentiles HasImages)> UnaryAsync(Clients client, int calls)
    {
        var caps = new List<double>();
        var has = new List<double>();
        var request = new Api.HasImagesRequest { ImageIds = { ImageStore.IdOf([1]) } };
        for (int i = 0; i < calls + 50; i++)   // the first 50 warm up (JIT, HTTP/2 connection)
        {
            long t = Stopwatch.GetTimestamp();
            await client.Host.GetCapabilitiesAsync(new Api.GetCapabilitiesRequest());
            if (i >= 50) caps.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            t = Stopwatch.GetTimestamp();
            await client.Images.HasImagesAsync(request);
            if (i >= 50) has.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        return (new Percentiles(caps), new Percentiles(has));
    }

    sealed record JobSettings(string Prompt, int K, int Steps, double Guidance, string Sampler, int Width, int Height);

    sealed record LocalRun(double TotalMs, double GenerateMs, double ScoreMs, double RankMs, int Selected, RgbImage SelectedImage);

    /// <param name="HostOtherMs">The job's run on the host (started to completed) minus generation and scoring.</param>
    /// <param name="TransportMs">The client's total minus the host's queued-to-completed span, minus GetImage.</param>
    sealed record HostRun(double TotalMs, double QueueMs, double GenerateMs, double ScoreMs, double HostOtherMs, double TransportMs,
        double GetImageMs, int Selected, RgbImage SelectedImage, int Events);

    /// <summary>The job as a program that links the models would run it: generate, score, rank.</summary>
    static LocalRun LocalJob(IImageGenerator generator, IReadOnlyList<IReward> rewards, JobSettings job, ModelTimers timers)
    {
        timers.Reset();
        long t = Stopwatch.GetTimestamp();
        long ranked = 0;
        var result = BestOfK.Run(generator, rewards, new GenerationRequest(job.Prompt, job.K, BaseSeed, "", job.Sampler, job.Steps, job.Guidance, job.Width, job.Height),
            new BestOfKSettings(CombineMethod.Arl), new BestOfKHooks { BeforeRanking = scored => { ranked = Stopwatch.GetTimestamp(); return scored; } });
        int selected = int.Parse(result.Ranking!.Order[0], CultureInfo.InvariantCulture);
        double total = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        return new LocalRun(total, timers.GenerateMs, timers.ScoreMs, Stopwatch.GetElapsedTime(ranked).TotalMilliseconds, selected, result.Candidates[selected].Image);
    }

    static async Task<HostRun> HostJobAsync(Clients client, JobSettings job, ModelTimers timers, List<double> eventLatency, bool warmUp)
    {
        var request = new Api.SubmitGenerationRequest
        {
            JobId = Guid.NewGuid().ToString(), ClientId = "bench", Prompt = job.Prompt, K = job.K,
            SeedPolicy = Api.SeedPolicy.Fixed, BaseSeed = BaseSeed, Sampler = job.Sampler, Steps = job.Steps, Guidance = job.Guidance,
            Width = job.Width, Height = job.Height, Pack = Diagnostics.DefaultPack, Rewards = { Rewards },
            CombineMethod = Api.CombineMethod.Arl, PreviewPolicy = Api.PreviewPolicy.None,
        };
        timers.Reset();
        long t = Stopwatch.GetTimestamp();
        await client.Jobs.SubmitGenerationAsync(request);
        // Events stamped before this moment were appended before the watch began: backlog, not latency.
        var watchStart = DateTime.UtcNow;
        DateTime queued = default, started = default, completed = default;
        int selected = -1;
        var scoredImages = new Dictionary<int, string>();
        int count = 0;
        using (var call = client.Jobs.WatchJob(new Api.WatchJobRequest { JobId = request.JobId }))
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                var now = DateTime.UtcNow;
                if (message.MessageCase != Api.WatchJobResponse.MessageOneofCase.Event) continue;
                var e = message.Event;
                count++;
                var time = e.Time.ToDateTime();
                if (!warmUp && time >= watchStart) eventLatency.Add((now - time).TotalMilliseconds);
                switch (e.KindCase)
                {
                    case Api.JobEvent.KindOneofCase.Queued when queued == default: queued = time; break;
                    case Api.JobEvent.KindOneofCase.Started: started = time; break;
                    case Api.JobEvent.KindOneofCase.CandidateScored: scoredImages[e.CandidateScored.CandidateIndex] = e.CandidateScored.ImageId; break;
                    case Api.JobEvent.KindOneofCase.Ranked: selected = e.Ranked.Selected; break;
                    case Api.JobEvent.KindOneofCase.Completed: completed = time; break;
                    case Api.JobEvent.KindOneofCase.Failed: throw new InvalidOperationException($"host job failed: {e.Failed.Code} {e.Failed.Message}");
                    case Api.JobEvent.KindOneofCase.Cancelled: throw new InvalidOperationException($"host job cancelled: {e.Cancelled.Reason}");
                }
            }
        }
        if (completed == default || selected < 0) throw new InvalidOperationException($"the watch of job {request.JobId} ended before the job completed");
        long fetch = Stopwatch.GetTimestamp();
        var png = new MemoryStream();
        using (var call = client.Images.GetImage(new Api.GetImageRequest { ImageId = scoredImages[selected] }))
            await foreach (var chunk in call.ResponseStream.ReadAllAsync()) chunk.Data.WriteTo(png);
        double getImage = Stopwatch.GetElapsedTime(fetch).TotalMilliseconds;
        double total = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        var image = PngCodec.Decode(png.ToArray(), "selected image").Image;

        double run = (completed - started).TotalMilliseconds;
        return new HostRun(total, (started - queued).TotalMilliseconds, timers.GenerateMs, timers.ScoreMs,
            run - timers.GenerateMs - timers.ScoreMs, total - (completed - queued).TotalMilliseconds - getImage, getImage, selected, image, count);
    }

    /// <summary>Wall time spent in the models during one run (runs never overlap).</summary>
    sealed class ModelTimers
    {
        long generate, score;
        public double GenerateMs => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref generate)).TotalMilliseconds;
        public double ScoreMs => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref score)).TotalMilliseconds;
        public void Reset() { Interlocked.Exchange(ref generate, 0); Interlocked.Exchange(ref score, 0); }
        public void AddGenerate(long ticks) => Interlocked.Add(ref generate, ticks);
        public void AddScore(long ticks) => Interlocked.Add(ref score, ticks);
    }

    /// <summary>The pack with its generator and rewards timed; the same objects serve the host and the in-process path.</summary>
    sealed class TimedPack(IModelPack inner, ModelTimers timers) : IModelPack
    {
        readonly Lazy<IImageGenerator> generator = new(() => new TimedGenerator(inner.RequireGenerator(), timers));
        readonly Dictionary<string, IReward> rewards = new(StringComparer.Ordinal);
        public string Name => inner.Name;
        public PackStatus Check() => inner.Check();
        public PackCapabilities Capabilities => inner.Capabilities;
        public Core.Training.GenerationSettings DefaultGeneration => inner.DefaultGeneration;
        public IReadOnlyList<string> ProbePrompts => inner.ProbePrompts;
        public IImageGenerator? Generator => generator.Value;
        public ILoraTrainer? Trainer => inner.Trainer;
        public Core.Training.IGroundTruth? GroundTruth => inner.GroundTruth;
        public void ValidatePrompt(string prompt, string field) => inner.ValidatePrompt(prompt, field);
        public void Dispose() { }

        public IReward CreateReward(string name)
        {
            lock (rewards)
            {
                if (!rewards.TryGetValue(name, out var reward)) rewards[name] = reward = new TimedReward(inner.CreateReward(name), timers);
                return reward;
            }
        }
    }

    sealed class TimedGenerator(IImageGenerator inner, ModelTimers timers) : IImageGenerator
    {
        public string Name => inner.Name;

        public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
        {
            long t = Stopwatch.GetTimestamp();
            try { return inner.Generate(request, progress, cancellationToken); }
            finally { timers.AddGenerate(Stopwatch.GetTimestamp() - t); }
        }
    }

    sealed class TimedReward(IReward inner, ModelTimers timers) : IReward
    {
        public string Name => inner.Name;
        public string Version => inner.Version;

        public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
        {
            long t = Stopwatch.GetTimestamp();
            try { return inner.Score(prompt, images, cancellationToken); }
            finally { timers.AddScore(Stopwatch.GetTimestamp() - t); }
        }
    }

    /// <summary>Nearest-rank percentiles of a sample.</summary>
    sealed class Percentiles
    {
        readonly List<double> sorted;
        public Percentiles(IEnumerable<double> values) => sorted = values.Order().ToList();
        public int Count => sorted.Count;
        public double P(double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
        public override string ToString() => sorted.Count == 0 ? "no samples"
            : $"n={Count} p50={P(0.5):0.000} ms p90={P(0.9):0.000} ms p99={P(0.99):0.000} ms max={sorted[^1]:0.000} ms";
        public JsonObject ToJson() => Count == 0 ? new() { ["n"] = 0 }
            : new() { ["n"] = Count, ["p50"] = Round(P(0.5)), ["p90"] = Round(P(0.9)), ["p99"] = Round(P(0.99)), ["max"] = Round(sorted[^1]) };
    }

    static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    static double Round(double v) => Math.Round(v, 3);
}
