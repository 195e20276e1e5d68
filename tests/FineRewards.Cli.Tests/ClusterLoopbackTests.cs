using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FineRewards.Cluster.Tests;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Protocol.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace FineRewards.Cli.Tests;

/// <summary>
/// Real `finerewards serve --cluster` processes on this machine (docs/cluster.md): one silo without a
/// device that is also the localhost clustering's primary, two with a CPU worker on the Shapes pack, one
/// shared folder, the cluster's state in the test PostgreSQL (tests/postgres/pg-start.sh).
/// </summary>
public class ClusterLoopbackTests(ITestOutputHelper output)
{
    const string Prompt = "a red circle above a blue square";

    static SubmitGenerationRequest Request(int steps) => new()
    {
        JobId = Guid.NewGuid().ToString(), ClientId = "loopback", Prompt = Prompt, K = 2, SeedPolicy = SeedPolicy.Fixed, BaseSeed = 7, Steps = steps,
    };

    [Fact]
    public async Task A_worker_killed_mid_job_leaves_the_job_to_the_other_worker_with_the_same_candidates_and_no_event_lost_or_repeated()
    {
        await using var database = await TestPostgres.NewSchemaAsync();
        string root = Directory.CreateTempSubdirectory("finerewards-cluster-loopback-").FullName;
        string shared = Directory.CreateDirectory(Path.Combine(root, "shared")).FullName;
        var ports = FreePorts(9);
        int primarySilo = ports[3];
        var silos = new List<Silo>();
        try
        {
            Silo Start(string name, int i, bool device)
            {
                var config = new Dictionary<string, object>
                {
                    ["cluster_id"] = "loopback", ["silo_port"] = ports[3 + i], ["gateway_port"] = ports[6 + i],
                    ["clustering"] = new Dictionary<string, object> { ["kind"] = "localhost", ["primary_silo_port"] = primarySilo },
                    ["database"] = database.ConnectionString, ["shared_folder"] = shared,
                    // Declared dead after about two missed probes of a second: the test waits seconds, not half a minute.
                    ["probe_timeout_ms"] = 1000, ["missed_probes_limit"] = 2,
                };
                if (device) config["devices"] = new[] { new Dictionary<string, object> { ["name"] = "cpu", ["packs"] = new[] { "shapes" } } };
                string dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
                string file = Path.Combine(dir, "cluster.json");
                File.WriteAllText(file, JsonSerializer.Serialize(config));
                var silo = Silo.Start(name, ports[i], ports[3 + i], file, Path.Combine(dir, "data"));
                silos.Add(silo);
                return silo;
            }
            var api = Start("api", 0, device: false);
            await api.WaitListeningAsync();
            var w1 = Start("worker1", 1, device: true);
            var w2 = Start("worker2", 2, device: true);
            await Task.WhenAll(w1.WaitListeningAsync(), w2.WaitListeningAsync());
            var workers = await WaitWorkersAsync(api, 2);
            Assert.All(workers, w => Assert.Equal(["shapes"], w.Packs));

            // A job through each silo's address, each watched through the silo that took it.
            const int steps = 30;
            var reference = Request(steps);
            var finished = new List<(SubmitGenerationRequest Request, List<JobEvent> Events)>();
            foreach (var (silo, request) in new[] { (api, reference), (w1, Request(steps)), (w2, Request(steps)) })
            {
                var submitted = await silo.Jobs.SubmitGenerationAsync(request);
                Assert.False(submitted.Existing);
                var events = await WatchAsync(silo, request.JobId, 0);
                Assert.Equal(JobEvent.KindOneofCase.Completed, events[^1].KindCase);
                finished.Add((request, events));
            }
            var expected = await CandidatePixelsAsync(api, finished[0].Events);

            // The job to interrupt: its stream runs on both workers' silos; the worker running it is killed at its first progress.
            var victim = Request(steps);
            await api.Jobs.SubmitGenerationAsync(victim);
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var streams = new[] { w1, w2 }.Select(s => (Silo: s, Events: new List<JobEvent>())).ToList();
            var watching = streams.Select(s => Task.Run(async () =>
            {
                try
                {
                    using var call = s.Silo.Jobs.WatchJob(new WatchJobRequest { JobId = victim.JobId }, cancellationToken: stop.Token);
                    await foreach (var r in call.ResponseStream.ReadAllAsync(stop.Token))
                        if (r.MessageCase == WatchJobResponse.MessageOneofCase.Event) lock (s.Events) s.Events.Add(r.Event);
                }
                catch (RpcException) { } // the killed silo's stream ends here
            })).ToList();
            Silo running;
            while (true)
            {
                stop.Token.ThrowIfCancellationRequested();
                var busy = (await api.Host.GetCapabilitiesAsync(new GetCapabilitiesRequest())).Workers.SingleOrDefault(w => w.JobId == victim.JobId);
                if (busy is not null)
                {
                    // Progress seen by the stream of the silo about to be killed (the other stream may be ahead of it).
                    var candidate = busy.Id.Contains($":{w1.SiloPort}@", StringComparison.Ordinal) ? w1 : w2;
                    var events = streams.Single(s => s.Silo == candidate).Events;
                    bool progressed;
                    lock (events) progressed = events.Any(e => e.KindCase == JobEvent.KindOneofCase.Progress);
                    if (progressed) { running = candidate; break; }
                }
                await Task.Delay(20);
            }
            var beforeKill = streams.Single(s => s.Silo == running).Events;
            List<JobEvent> seen;
            lock (beforeKill) seen = [.. beforeKill];
            Assert.DoesNotContain(seen, e => e.KindCase == JobEvent.KindOneofCase.Completed);
            var killed = Stopwatch.StartNew();
            running.Kill();
            var survivor = running == w1 ? w2 : w1;
            output.WriteLine($"killed {running.Name} (kill -9) after event {seen[^1].Sequence} ({seen[^1].KindCase}) of job {victim.JobId}");

            // The client of the dead silo reconnects to another and resumes after the last event it had.
            await watching[streams.FindIndex(s => s.Silo == running)];
            lock (beforeKill) seen = [.. beforeKill];
            var resumed = await WatchAsync(api, victim.JobId, seen[^1].Sequence);
            var all = seen.Concat(resumed).ToList();
            output.WriteLine($"resumed on the api silo after {seen[^1].Sequence}: {resumed.Count} more events, completed {killed.Elapsed.TotalSeconds:0.0} s after the kill");
            Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
            Assert.True(all[^1].KindCase == JobEvent.KindOneofCase.Completed, $"the job ended with {all[^1]}");
            Assert.Single(all, e => e.KindCase == JobEvent.KindOneofCase.Started);
            // The survivor's stream saw the same events, in the same order.
            await watching[streams.FindIndex(s => s.Silo == survivor)];
            var other = streams.Single(s => s.Silo == survivor).Events;
            Assert.Equal(all.Select(e => (e.Sequence, e.KindCase)), other.Select(e => (e.Sequence, e.KindCase)));

            // Re-run on the other worker with the same seeds: the same candidates as the uninterrupted reference job.
            Assert.Equal(expected, await CandidatePixelsAsync(survivor, all));
            var (_, after) = (await WaitWorkersAsync(api, 1)).Single() is var w ? (0, w) : default;
            Assert.Contains($":{survivor.SiloPort}@", after.Id);

            // A skip goes through the job's grain to its worker: a finished job has nothing left to skip.
            var skip = await Assert.ThrowsAsync<RpcException>(async () => await api.Jobs.SkipCandidateAsync(new SkipCandidateRequest { JobId = victim.JobId, CandidateIndex = 0 }));
            Assert.Equal(StatusCode.FailedPrecondition, skip.StatusCode);
            Assert.Equal("job_id", skip.Trailers.GetValue("finerewards-field"));

            // Training through the cluster: a candidate accepted through one silo, a short round (feedback alone) started
            // through another and run by the worker, its LoRA listed through a third address and drawn with by a job.
            var trainingClock = Stopwatch.StartNew();
            string profile = "loopback-" + Guid.NewGuid().ToString("N");
            var accepted = finished[0].Events.Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady).First();
            await survivor.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
            {
                FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = profile, Kind = FeedbackKind.Accepted, Prompt = Prompt,
                ImageId = accepted.ImageId, JobId = reference.JobId, CandidateIndex = accepted.CandidateIndex,
            });
            var start = new StartTrainingRoundRequest
            {
                TrainingId = Guid.NewGuid().ToString(), ClientId = "loopback", ProfileId = profile,
                Options = new TrainingOptions { StepsPerRound = 2, Seed = 3, Rewards = { "caption" } },
            };
            Assert.False((await api.Training.StartTrainingRoundAsync(start)).Existing);
            var trainingEvents = await WatchTrainingAsync(api, start.TrainingId);
            Assert.True(trainingEvents[^1].KindCase == TrainingEvent.KindOneofCase.Completed, $"the training ended with {trainingEvents[^1]}");
            Assert.Equal(1, trainingEvents.Single(e => e.KindCase == TrainingEvent.KindOneofCase.Started).Started.FeedbackPairs);
            var completed = trainingEvents[^1].Completed;
            Assert.Equal(Path.Combine(shared, "loras", completed.Sha256 + ".safetensors"), completed.Path);
            var lora = (await survivor.Training.ListLorasAsync(new ListLorasRequest { ProfileId = profile })).Loras.Single();
            Assert.Equal((start.TrainingId, completed.Sha256, completed.Evaluation.Verdict), (lora.LoraId, lora.Sha256, lora.Evaluation.Verdict));
            var withLora = Request(steps);
            withLora.Loras.Add(new LoraWeight { Name = lora.LoraId, Scale = 1 });
            await survivor.Jobs.SubmitGenerationAsync(withLora);
            Assert.Equal(JobEvent.KindOneofCase.Completed, (await WatchAsync(api, withLora.JobId, 0))[^1].KindCase);
            output.WriteLine($"training round, its LoRA listed and a job with it: {trainingClock.Elapsed.TotalSeconds:0.0} s ({completed.Evaluation.Verdict})");

            // Nothing acknowledged is lost: every earlier job still reads back whole, from a silo that outlived the kill.
            foreach (var (request, events) in finished)
                Assert.Equal(events.Select(e => (e.Sequence, e.KindCase)), (await WatchAsync(survivor, request.JobId, 0)).Select(e => (e.Sequence, e.KindCase)));
        }
        catch
        {
            foreach (var silo in silos) Console.Error.WriteLine($"--- {silo.Name} log ---\n{silo.Log}");
            throw;
        }
        finally
        {
            foreach (var silo in silos) silo.Dispose();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<List<JobEvent>> WatchAsync(Silo silo, string jobId, long after)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var events = new List<JobEvent>();
        using var call = silo.Jobs.WatchJob(new WatchJobRequest { JobId = jobId, AfterSequence = after }, cancellationToken: timeout.Token);
        await foreach (var r in call.ResponseStream.ReadAllAsync(timeout.Token))
            if (r.MessageCase == WatchJobResponse.MessageOneofCase.Event) events.Add(r.Event);
        return events;
    }

    static async Task<List<TrainingEvent>> WatchTrainingAsync(Silo silo, string trainingId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var events = new List<TrainingEvent>();
        using var call = silo.Training.WatchTraining(new WatchTrainingRequest { TrainingId = trainingId }, cancellationToken: timeout.Token);
        await foreach (var r in call.ResponseStream.ReadAllAsync(timeout.Token))
            if (r.MessageCase == WatchTrainingResponse.MessageOneofCase.Event) events.Add(r.Event);
        return events;
    }

    /// <summary>Each candidate's seed and decoded pixels (its PNG's bytes also carry the job id, so pixels are what must match).</summary>
    static async Task<List<(long Seed, string Pixels)>> CandidatePixelsAsync(Silo silo, List<JobEvent> events)
    {
        var result = new List<(long, string)>();
        foreach (var ready in events.Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady).OrderBy(r => r.CandidateIndex))
        {
            using var bytes = new MemoryStream();
            using var call = silo.Images.GetImage(new GetImageRequest { ImageId = ready.ImageId });
            await foreach (var chunk in call.ResponseStream.ReadAllAsync()) chunk.Data.WriteTo(bytes);
            var image = PngCodec.Decode(bytes.ToArray(), ready.ImageId).Image;
            result.Add((ready.Seed, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(image.Pixels))));
        }
        Assert.Equal(2, result.Count);
        return result;
    }

    /// <summary>Waits until the cluster reports exactly <paramref name="count"/> workers.</summary>
    static async Task<IReadOnlyList<WorkerInfo>> WaitWorkersAsync(Silo silo, int count)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var workers = (await silo.Host.GetCapabilitiesAsync(new GetCapabilitiesRequest())).Workers;
                if (workers.Count == count) return workers;
                if (clock.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException($"the cluster reports {workers.Count} workers, not {count}: {string.Join("; ", workers.Select(w => w.Id))}");
            }
            catch (RpcException) when (clock.Elapsed < TimeSpan.FromSeconds(90)) { } // the silo is still joining
            await Task.Delay(200);
        }
    }

    static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    /// <summary>One `finerewards serve --cluster` child process and its clients.</summary>
    sealed class Silo : IDisposable
    {
        readonly Process process;
        readonly System.Text.StringBuilder log = new();
        readonly TaskCompletionSource listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly GrpcChannel channel;
        public string Name { get; }
        public int SiloPort { get; }
        public HostService.HostServiceClient Host { get; }
        public GenerationService.GenerationServiceClient Jobs { get; }
        public ImageService.ImageServiceClient Images { get; }
        public FeedbackService.FeedbackServiceClient Feedback { get; }
        public TrainingService.TrainingServiceClient Training { get; }

        public string Log
        {
            get { lock (log) return log.ToString(); }
        }

        Silo(string name, int port, int siloPort, Process process)
        {
            Name = name;
            SiloPort = siloPort;
            this.process = process;
            channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            Host = new HostService.HostServiceClient(channel);
            Jobs = new GenerationService.GenerationServiceClient(channel);
            Images = new ImageService.ImageServiceClient(channel);
            Feedback = new FeedbackService.FeedbackServiceClient(channel);
            Training = new TrainingService.TrainingServiceClient(channel);
        }

        public static Silo Start(string name, int port, int siloPort, string config, string data)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "finerewards.dll"), "serve", "--cluster", config, "--port", port.ToString(), "--data", data })
                start.ArgumentList.Add(a);
            var silo = new Silo(name, port, siloPort, Process.Start(start)!);
            void Line(string? line)
            {
                if (line is null) return;
                lock (silo.log) silo.log.AppendLine(line);
                if (line.StartsWith("listening on", StringComparison.Ordinal)) silo.listening.TrySetResult();
            }
            silo.process.OutputDataReceived += (_, e) => Line(e.Data);
            silo.process.ErrorDataReceived += (_, e) => Line(e.Data);
            silo.process.BeginOutputReadLine();
            silo.process.BeginErrorReadLine();
            silo.process.EnableRaisingEvents = true;
            silo.process.Exited += (_, _) => silo.listening.TrySetException(new InvalidOperationException($"silo {name} exited with {silo.process.ExitCode}"));
            return silo;
        }

        public Task WaitListeningAsync() => listening.Task.WaitAsync(TimeSpan.FromSeconds(120));

        /// <summary>SIGKILL: no shutdown, no goodbye to the cluster.</summary>
        public void Kill()
        {
            process.Kill();
            process.WaitForExit();
        }

        public void Dispose()
        {
            channel.Dispose();
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
        }
    }
}
