using System.Collections.Immutable;
using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using FineRewards.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Dom = FineRewards.Contracts;
using V1SeedPolicy = FineRewards.Protocol.V1.SeedPolicy;
using V1Verdict = FineRewards.Protocol.V1.Verdict;

namespace FineRewards.Plugin.Client;

/// <summary>
/// The gRPC client of a FineRewards host. Calls run on the thread pool; each result is folded into
/// a new immutable <see cref="ClientSnapshot"/>. Job streams reconnect after failures and resume
/// from the last sequence number seen, so nothing is lost or seen twice.
/// </summary>
public sealed class HostClient : IHostClient
{
    public const int ChunkBytes = 256 * 1024;

    readonly GrpcChannel channel;
    readonly HostService.HostServiceClient hostRpc;
    readonly GenerationService.GenerationServiceClient jobsRpc;
    readonly ImageService.ImageServiceClient imagesRpc;
    readonly FeedbackService.FeedbackServiceClient feedbackRpc;
    readonly TrainingService.TrainingServiceClient trainingRpc;
    readonly Metadata headers = [];
    readonly CancellationTokenSource stopping = new();
    readonly object gate = new();
    readonly HashSet<string> watching = [];
    readonly Task connectionLoop;
    readonly SemaphoreSlim refresh = new(0);
    CancellationTokenSource streams = new();
    ClientSnapshot snapshot;

    public string Address { get; }
    public string ClientId { get; }
    /// <summary>How long a capabilities call may take before the host counts as unreachable.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Poll interval while connected; failures retry sooner, backing off to this.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long a job's stream may fail to reach the host before the job is ended here: a host that
    /// comes back marks the jobs it was running failed, so waiting longer only leaves "Generating…" up.
    /// </summary>
    public TimeSpan HostLostAfter { get; init; } = TimeSpan.FromSeconds(4);

    public event Action? Changed;
    public ClientSnapshot Snapshot => Volatile.Read(ref snapshot);

    /// <param name="address">e.g. http://127.0.0.1:50151</param>
    /// <param name="clientId">Names this editor to the host's fair queue.</param>
    /// <param name="token">The host's bearer token, when it has one.</param>
    public HostClient(string address, string clientId = "editor", string? token = null)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            throw new FineRewards.Contracts.InputException("address", $"\"{address}\" is not an http:// or https:// address of a FineRewards host (e.g. http://127.0.0.1:50151)");
        Address = address;
        ClientId = clientId;
        if (!string.IsNullOrEmpty(token)) headers.Add("authorization", $"Bearer {token}");
        channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { MaxReceiveMessageSize = 4 * 1024 * 1024 });
        hostRpc = new HostService.HostServiceClient(channel);
        jobsRpc = new GenerationService.GenerationServiceClient(channel);
        imagesRpc = new ImageService.ImageServiceClient(channel);
        feedbackRpc = new FeedbackService.FeedbackServiceClient(channel);
        trainingRpc = new TrainingService.TrainingServiceClient(channel);
        snapshot = ClientSnapshot.Initial(address);
        connectionLoop = Task.Run(ConnectionLoopAsync);
    }

    // ---- snapshots ---------------------------------------------------------------------------

    void Update(Func<ClientSnapshot, ClientSnapshot> change)
    {
        lock (gate)
        {
            var next = change(snapshot);
            if (ReferenceEquals(next, snapshot)) return;
            Volatile.Write(ref snapshot, next with { Version = snapshot.Version + 1 });
        }
        Changed?.Invoke();
    }

    void UpdateJob(string jobId, Func<JobView, JobView> change) =>
        Update(s => s.Jobs.TryGetValue(jobId, out var job) ? s with { Jobs = s.Jobs.SetItem(jobId, change(job)) } : s);

    // ---- connection --------------------------------------------------------------------------

    public void Refresh() => refresh.Release();

    /// <summary>
    /// Drops every open job stream and opens it again from the last sequence number seen (after the
    /// editor learns the network changed, or the machine woke up). Jobs on the host are not affected.
    /// </summary>
    public void Reconnect()
    {
        CancellationTokenSource old;
        lock (gate) { old = streams; streams = new CancellationTokenSource(); }
        old.Cancel(); // not disposed: a stream may be linking to its token right now
        Refresh();
    }

    async Task ConnectionLoopAsync()
    {
        var retry = TimeSpan.FromMilliseconds(250);
        while (!stopping.IsCancellationRequested)
        {
            ConnectionStatus status;
            try
            {
                var caps = await hostRpc.GetCapabilitiesAsync(new GetCapabilitiesRequest(), headers,
                    DateTime.UtcNow + CallTimeout, stopping.Token);
                status = StatusOf(caps);
                retry = TimeSpan.FromMilliseconds(250);
            }
            catch (RpcException e) when (!stopping.IsCancellationRequested)
            {
                status = new ConnectionStatus(ConnectionState.Unreachable, Unreachable(e), [Why(e)], null);
            }
            catch (OperationCanceledException) { return; }
            Update(s => s.Connection == status || SameStatus(s.Connection, status) ? s : s with { Connection = status });
            if (status.State != ConnectionState.Unreachable)
            {
                try { await ListLorasAsync(); }
                catch (OperationCanceledException) { return; }
            }
            var wait = status.State == ConnectionState.Unreachable ? retry : PollInterval;
            if (status.State == ConnectionState.Unreachable) retry = TimeSpan.FromTicks(Math.Min(PollInterval.Ticks, retry.Ticks * 2));
            try { await refresh.WaitAsync(wait, stopping.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    static bool SameStatus(ConnectionStatus a, ConnectionStatus b) =>
        a.State == b.State && a.Message == b.Message && a.Problems.SequenceEqual(b.Problems) && Equals(a.Host?.HostVersion, b.Host?.HostVersion)
        && (a.Host?.ReadyPacks ?? []).SequenceEqual(b.Host?.ReadyPacks ?? []) && (a.Host?.Rewards ?? []).SequenceEqual(b.Host?.Rewards ?? [])
        && (a.Host?.Packs ?? []).Select(Signature).SequenceEqual((b.Host?.Packs ?? []).Select(Signature));

    static string Signature(PackView p) =>
        $"{p.Name}|{p.Ready}|{p.State}|{string.Join(",", p.Rewards)}|{string.Join(",", p.DefaultRewards)}|{string.Join(",", p.Samplers)}|{string.Join(";", p.Problems)}|{p.Fix}";

    /// <summary>What went wrong, in words: gRPC's own texts ("Error connecting to subchannel.") say nothing to a user.</summary>
    static string Why(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unavailable when Refused(e) => "connection refused: nothing listens on that port",
        StatusCode.Unavailable => $"the host is not answering ({(string.IsNullOrEmpty(e.Status.Detail) ? "unavailable" : e.Status.Detail.TrimEnd('.'))})",
        StatusCode.DeadlineExceeded => "no answer within the timeout",
        StatusCode.Unauthenticated => "the host wants a token (authorization: Bearer)",
        _ => $"{e.StatusCode}: {e.Status.Detail}",
    };

    static bool Refused(RpcException e)
    {
        for (Exception? x = e.Status.DebugException; x is not null; x = x.InnerException)
            if (x is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused }) return true;
        return false;
    }

    /// <summary>The status bar's line for a host that did not answer, with what to do.</summary>
    string Unreachable(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unauthenticated => $"the host at {Address} wants a token: pass the one `finerewards serve --token` was given",
        _ when Refused(e) => $"no FineRewards host at {Address} (connection refused): start one with `finerewards serve`, or check the address and port (default {DefaultPort})",
        _ => $"host unreachable at {Address}: {Why(e)}; is `finerewards serve` running there?",
    };

    /// <summary>The port `finerewards serve` listens on unless told otherwise.</summary>
    public const int DefaultPort = 50151;

    static ConnectionStatus StatusOf(GetCapabilitiesResponse caps)
    {
        var ready = caps.Packs.Where(p => p.State == PackState.Ready).Select(p => p.Name).ToList();
        var rewards = caps.Rewards.Select(r => r.Name).ToList();
        var info = new HostInfo(caps.ProtocolVersion, caps.HostVersion, caps.Device?.Name ?? "", caps.DefaultPack, ready,
            rewards, caps.Limits?.MaxK ?? 16, caps.Limits?.MaxSteps ?? 100,
            caps.Limits?.MaxWidth ?? 64, caps.Limits?.MaxHeight ?? 64)
        {
            // A host from before per-pack capabilities lists no pack rewards: its rewards are the host's.
            Packs = caps.Packs.Select(p => new PackView(p.Name, p.State == PackState.Ready,
                p.Rewards.Count > 0 ? p.Rewards.ToList() : rewards,
                p.Rewards.Count > 0 ? p.DefaultRewards.ToList() : PackView.AssumedDefaults(rewards), p.Samplers.ToList())
            {
                State = p.State.ToString().ToLowerInvariant(), Problems = p.Problems.ToList(), Fix = p.Fix,
            }).ToList(),
        };
        if (!caps.ProtocolVersion.StartsWith("1.", StringComparison.Ordinal))
            return new ConnectionStatus(ConnectionState.Unreachable, $"host speaks protocol {caps.ProtocolVersion}; this plugin knows 1.x", [], info);
        var problems = new List<string>();
        var pack = caps.Packs.FirstOrDefault(p => p.Name == caps.DefaultPack);
        if (pack is null) problems.Add($"pack {caps.DefaultPack}: not configured");
        else if (pack.State is PackState.Missing or PackState.Failed)
            problems.AddRange(pack.Problems.Count > 0 ? pack.Problems.Select(p => $"pack {pack.Name}: {p}") : [$"pack {pack.Name}: {pack.State}"]);
        if (caps.Rewards.Count == 0) problems.Add("no reward models");
        if (problems.Count > 0)
            return new ConnectionStatus(ConnectionState.MissingModels, $"host is missing models: {string.Join("; ", problems)}", problems, info);
        if (pack!.State == PackState.Loading)
            return new ConnectionStatus(ConnectionState.Connecting, $"host is loading pack {pack.Name}", [], info);
        return new ConnectionStatus(ConnectionState.Ready, $"ready: {caps.DefaultPack} on {info.Device}, rewards {string.Join(", ", info.Rewards)}", [], info);
    }

    // ---- prompt check ------------------------------------------------------------------------

    (string Pack, string Prompt)? promptAsked;

    public void CheckPrompt(string pack, string prompt)
    {
        lock (gate)
        {
            if (promptAsked == (pack, prompt)) return;
            promptAsked = (pack, prompt);
        }
        InBackground(async () =>
        {
            var answer = await hostRpc.CheckPromptAsync(new CheckPromptRequest { Pack = pack, Prompt = prompt }, headers, DateTime.UtcNow + CallTimeout, stopping.Token);
            var check = new PromptCheck(pack, prompt, answer.Ok, answer.Message, answer.Fix);
            // Only the latest question's answer counts: answers to earlier keystrokes may arrive late.
            Update(s => promptAsked == (pack, prompt) ? s with { PromptCheck = check } : s);
        }, e =>
        {
            // An older host without CheckPrompt, or none at all: submit checks the prompt anyway; ask again next time.
            lock (gate) if (promptAsked == (pack, prompt)) promptAsked = null;
        });
    }

    // ---- jobs --------------------------------------------------------------------------------

    public string Generate(JobParameters p)
    {
        string jobId = Guid.NewGuid().ToString();
        var request = new SubmitGenerationRequest
        {
            JobId = jobId,
            ClientId = ClientId,
            Prompt = p.Prompt,
            NegativePrompt = p.NegativePrompt,
            K = p.K,
            SeedPolicy = p.SeedPolicy switch { Dom.SeedPolicy.Fixed => V1SeedPolicy.Fixed, Dom.SeedPolicy.Increment => V1SeedPolicy.Increment, _ => V1SeedPolicy.Random },
            BaseSeed = p.BaseSeed,
            Sampler = p.Sampler,
            Steps = p.Steps,
            Guidance = p.Guidance,
            Width = p.Width,
            Height = p.Height,
            CombineMethod = p.Combine switch { CombineChoice.Sum => CombineMethod.Sum, CombineChoice.Normalized => CombineMethod.Normalized, CombineChoice.Single => CombineMethod.Single, _ => CombineMethod.Arl },
            SingleReward = p.Combine == CombineChoice.Single ? p.SingleReward : "",
            PreviewPolicy = PreviewPolicy.Thumbnails,
            Pack = p.Pack,
        };
        request.Rewards.AddRange(p.Rewards ?? []);
        foreach (var l in p.Loras ?? []) request.Loras.Add(new LoraWeight { Name = l.Path, Scale = l.Scale });
        AddJob(jobId, p, JobPhase.Submitting);
        _ = Task.Run(async () =>
        {
            bool queued = await SubmitAsync(
                () => jobsRpc.SubmitGenerationAsync(request, headers, cancellationToken: stopping.Token).ResponseAsync,
                why => UpdateJob(jobId, j => j with { StreamProblem = why is null ? null : $"retrying submit: {why}" }),
                (error, fix) => UpdateJob(jobId, j => j with { Phase = JobPhase.Failed, Error = error, SuggestedFix = fix, StreamProblem = null }));
            if (!queued) return;
            UpdateJob(jobId, j => j with { Phase = j.Phase == JobPhase.Submitting ? JobPhase.Queued : j.Phase });
            await WatchAsync(jobId);
        });
        return jobId;
    }

    /// <summary>
    /// Sends a start request whose id was chosen here (so a retry can never make a second job),
    /// retrying while the host is unavailable; false when it refused or the client is closing.
    /// </summary>
    /// <param name="retrying">Why it is retrying (null once sent).</param>
    /// <param name="refused">The host's reason and, when it named a request field, "check FIELD".</param>
    async Task<bool> SubmitAsync(Func<Task> send, Action<string?> retrying, Action<string, string?> refused)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await send();
                retrying(null);
                return true;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && !stopping.IsCancellationRequested)
            {
                retrying(Why(e));
                await Delay(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, backoff.Ticks * 2));
            }
            catch (RpcException e)
            {
                string field = e.Trailers.GetValue("finerewards-field") ?? "";
                refused(e.Status.Detail, field.Length > 0 ? $"check {field}" : null);
                return false;
            }
            catch (OperationCanceledException) { return false; }
        }
        return false;
    }

    void AddJob(string jobId, JobParameters p, JobPhase phase) =>
        Update(s => s.Jobs.ContainsKey(jobId) ? s : s with
        {
            Jobs = s.Jobs.SetItem(jobId, new JobView(jobId, p, phase, [.. new CandidateView?[Math.Max(0, p.K)]])),
        });

    public void Watch(string jobId, JobParameters parameters)
    {
        AddJob(jobId, parameters, JobPhase.Queued);
        _ = Task.Run(() => WatchAsync(jobId));
    }

    Task WatchAsync(string jobId) => FollowAsync($"job {jobId}",
        () => { var j = Snapshot.Jobs[jobId]; return (j.Finished, j.LastSequence); },
        async (after, ct) =>
        {
            using var call = jobsRpc.WatchJob(new WatchJobRequest { JobId = jobId, AfterSequence = after }, headers, cancellationToken: ct);
            await foreach (var m in call.ResponseStream.ReadAllAsync(ct))
                if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event) await ApplyAsync(m.Event);
        },
        () => UpdateJob(jobId, j => j with { Resumes = j.Resumes + 1 }),
        problem => UpdateJob(jobId, j => j with { StreamProblem = problem is null ? null : $"reconnecting after sequence {j.LastSequence}: {problem}" }),
        why => UpdateJob(jobId, j => j with { Phase = JobPhase.Failed, Error = $"the host does not know this job: {why}" }),
        why => UpdateJob(jobId, j => j.Finished ? j : j with
        {
            Phase = JobPhase.Failed, StreamProblem = null,
            Error = $"the host stopped answering during the job ({why})",
            SuggestedFix = "start `finerewards serve` again (it reconnects by itself), then press Generate: a restarted host marks this job failed",
        }));

    /// <summary>
    /// Follows one numbered event stream (a job's or a training's) until its job finishes: opens it
    /// after the last sequence seen, and after a failure opens it again from there (backoff 0.1 s
    /// doubling to 2 s, reset by every event); <see cref="Reconnect"/> reopens it at once.
    /// </summary>
    /// <param name="position">Whether the job finished, and the last sequence applied.</param>
    /// <param name="read">Opens the stream after the given sequence and applies its events until it ends.</param>
    /// <param name="problem">The stream's trouble, or null once it reads again.</param>
    /// <param name="lost">Given, ends the job here once the host has not answered for <see cref="HostLostAfter"/>.</param>
    async Task FollowAsync(string key, Func<(bool Finished, long Last)> position, Func<long, CancellationToken, Task> read,
        Action resumed, Action<string?> problem, Action<string> notFound, Action<string>? lost = null)
    {
        lock (gate) if (!watching.Add(key)) return;
        try
        {
            var backoff = TimeSpan.FromMilliseconds(100);
            DateTime? failingSince = null;
            while (!stopping.IsCancellationRequested)
            {
                var (finished, last) = position();
                if (finished) return;
                CancellationToken dropped;
                lock (gate) dropped = streams.Token;
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token, dropped);
                try
                {
                    if (last > 0) resumed();
                    await read(last, linked.Token);
                    failingSince = null;
                }
                catch (Exception e) when (dropped.IsCancellationRequested && !stopping.IsCancellationRequested && e is OperationCanceledException or RpcException)
                {
                    continue; // Reconnect(): open the stream again at once
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    notFound(e.Status.Detail);
                    return;
                }
                catch (RpcException e) when (!stopping.IsCancellationRequested)
                {
                    if (position().Last > last) { backoff = TimeSpan.FromMilliseconds(100); failingSince = null; } // it read events before failing
                    failingSince ??= DateTime.UtcNow;
                    if (lost is not null && e.StatusCode is StatusCode.Unavailable or StatusCode.Internal && DateTime.UtcNow - failingSince >= HostLostAfter)
                    {
                        lost(Why(e));
                        return;
                    }
                    problem(Why(e));
                    await Delay(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, backoff.Ticks * 2));
                }
                catch (OperationCanceledException) { return; }
            }
        }
        finally
        {
            lock (gate) watching.Remove(key);
        }
    }

    async Task ApplyAsync(JobEvent e)
    {
        // Decode images before taking the lock: snapshots only ever hold finished images.
        Dom.RgbImage? full = null;
        SkiaSharp.SKImage? preview = null;
        if (e.KindCase == JobEvent.KindOneofCase.CandidateReady)
        {
            var ready = e.CandidateReady;
            if (ready.ThumbnailPng.Length > 0) preview = ImageCodec.DecodeToSkImage(ready.ThumbnailPng.Span);
            try { full = PngCodec.Decode(await GetImageAsync(ready.ImageId), $"image {ready.ImageId}", overWhite: true).Image; }
            catch (RpcException) { full = null; } // the preview still shows; accepting fetches again
            if (full is not null) preview = ImageCodec.ToSkImage(full);
        }
        UpdateJob(e.JobId, j =>
        {
            if (e.Sequence <= j.LastSequence) return j; // already seen (a resumed stream never repeats, but be safe)
            j = j with { LastSequence = e.Sequence, StreamProblem = null };
            switch (e.KindCase)
            {
                case JobEvent.KindOneofCase.Queued: return j with { Phase = JobPhase.Queued, QueuePosition = e.Queued.Position };
                case JobEvent.KindOneofCase.Started: return j with { Phase = JobPhase.Running, BaseSeed = e.Started.BaseSeed, QueuePosition = null };
                // The counter never goes back: an engine that denoises the candidates in several batches
                // starts its steps again for each; the candidates done count on meanwhile.
                case JobEvent.KindOneofCase.Progress:
                    return j with { Phase = JobPhase.Running, Step = e.Progress.Steps == j.Steps ? Math.Max(j.Step, e.Progress.Step) : e.Progress.Step, Steps = e.Progress.Steps };
                case JobEvent.KindOneofCase.CandidateReady:
                {
                    var r = e.CandidateReady;
                    var c = new CandidateView(r.CandidateIndex, r.Seed, r.ImageId, preview, full, [], null, null);
                    return j with { Candidates = Place(j.Candidates, r.CandidateIndex, c) };
                }
                case JobEvent.KindOneofCase.CandidateScored:
                {
                    var s = e.CandidateScored;
                    var old = s.CandidateIndex < j.Candidates.Length ? j.Candidates[s.CandidateIndex] : null;
                    var rewards = s.Rewards.Select(ToView).ToList();
                    var c = (old ?? new CandidateView(s.CandidateIndex, 0, "", null, null, [], null, null)) with { Rewards = rewards, Total = s.Total, ScoredImageId = s.ImageId };
                    return j with { Candidates = Place(j.Candidates, s.CandidateIndex, c) };
                }
                case JobEvent.KindOneofCase.Ranked: return j with { Order = e.Ranked.Order.ToList(), Selected = e.Ranked.Selected, Method = e.Ranked.Method };
                case JobEvent.KindOneofCase.Completed: return j with { Phase = JobPhase.Completed };
                case JobEvent.KindOneofCase.Failed: return j with { Phase = JobPhase.Failed, Error = $"{e.Failed.Code}: {e.Failed.Message}", SuggestedFix = e.Failed.SuggestedFix };
                case JobEvent.KindOneofCase.Cancelled: return j with { Phase = JobPhase.Cancelled, Error = e.Cancelled.Reason };
                default: return j;
            }
        });
    }

    static ImmutableArray<CandidateView?> Place(ImmutableArray<CandidateView?> list, int index, CandidateView c)
    {
        var b = list.ToBuilder();
        while (b.Count <= index) b.Add(null);
        b[index] = c;
        return b.ToImmutable();
    }

    static RewardView ToView(RewardResult r) => new(
        r.Reward, r.Score, r.Rank, string.IsNullOrEmpty(r.Caption) ? null : r.Caption,
        r.Segments.Select(s => new JudgedSegment(
            new Dom.Segment(s.Label, s.Confidence, new Dom.Box(s.Box?.X ?? 0, s.Box?.Y ?? 0, s.Box?.Width ?? 0, s.Box?.Height ?? 0),
                new Dom.RunLengthMask(s.Mask?.Width ?? 0, s.Mask?.Height ?? 0, s.Mask?.Runs.ToArray() ?? [])),
            s.Verdict switch { V1Verdict.Certain => Dom.Verdict.Certain, V1Verdict.Unlikely => Dom.Verdict.Unlikely, _ => Dom.Verdict.May })).ToList(),
        r.Flags.ToList());

    public void Cancel(string jobId) => InBackground(async () =>
    {
        var response = await jobsRpc.CancelJobAsync(new CancelJobRequest { JobId = jobId }, headers, cancellationToken: stopping.Token);
        // The cancelled event arrives on the stream; a job that was not found is marked here.
        if (response.Outcome == CancelOutcome.NotFound)
            UpdateJob(jobId, j => j with { Phase = JobPhase.Cancelled, Error = "the host did not know this job" });
    }, e => UpdateJob(jobId, j => j with { StreamProblem = $"cancel failed: {Why(e)}" }));

    /// <summary>
    /// Runs a call off the UI thread: an RPC failure goes to <paramref name="failed"/> (a snapshot update),
    /// shutdown is silent, and <paramref name="then"/> runs after the call or its failure.
    /// </summary>
    void InBackground(Func<Task> call, Action<RpcException> failed, Action? then = null) => _ = Task.Run(async () =>
    {
        try
        {
            await call();
        }
        catch (RpcException e) when (!stopping.IsCancellationRequested)
        {
            failed(e);
        }
        catch (OperationCanceledException) { return; }
        then?.Invoke();
    });

    // ---- training and LoRAs ------------------------------------------------------------------

    public string StartTraining(TrainingParameters p)
    {
        string trainingId = Guid.NewGuid().ToString();
        var request = new StartTrainingRoundRequest
        {
            TrainingId = trainingId,
            ClientId = ClientId,
            ProfileId = p.Profile,
            Options = new TrainingOptions
            {
                IncludeGenerated = p.IncludeGenerated,
                Rounds = p.IncludeGenerated ? p.Rounds : 0,
                K = p.K,
                StepsPerImage = p.StepsPerRound > 0 ? 0 : p.StepsPerImage,
                StepsPerRound = p.StepsPerRound,
                Seed = p.Seed,
                Objective = p.Objective,
            },
        };
        request.Options.Rewards.AddRange(p.Rewards ?? []);
        AddTraining(trainingId, p, TrainingJobPhase.Submitting);
        _ = Task.Run(async () =>
        {
            bool queued = await SubmitAsync(
                () => trainingRpc.StartTrainingRoundAsync(request, headers, cancellationToken: stopping.Token).ResponseAsync,
                why => UpdateTraining(trainingId, t => t with { StreamProblem = why is null ? null : $"retrying start: {why}" }),
                (error, fix) => UpdateTraining(trainingId, t => t with { State = TrainingJobPhase.Failed, Error = error, SuggestedFix = fix, StreamProblem = null }));
            if (!queued) return;
            UpdateTraining(trainingId, t => t with { State = t.State == TrainingJobPhase.Submitting ? TrainingJobPhase.Queued : t.State });
            await WatchTrainingAsync(trainingId);
        });
        return trainingId;
    }

    public void WatchTraining(string trainingId, TrainingParameters parameters)
    {
        AddTraining(trainingId, parameters, TrainingJobPhase.Queued);
        _ = Task.Run(() => WatchTrainingAsync(trainingId));
    }

    void AddTraining(string trainingId, TrainingParameters p, TrainingJobPhase state) =>
        Update(s => s.Trainings.ContainsKey(trainingId) ? s : s with { Trainings = s.Trainings.SetItem(trainingId, new TrainingView(trainingId, p, state)) });

    void UpdateTraining(string trainingId, Func<TrainingView, TrainingView> change) =>
        Update(s => s.Trainings.TryGetValue(trainingId, out var t) ? s with { Trainings = s.Trainings.SetItem(trainingId, change(t)) } : s);

    Task WatchTrainingAsync(string trainingId) => FollowAsync($"training {trainingId}",
        () => { var t = Snapshot.Trainings[trainingId]; return (t.Finished, t.LastSequence); },
        async (after, ct) =>
        {
            using var call = trainingRpc.WatchTraining(new WatchTrainingRequest { TrainingId = trainingId, AfterSequence = after }, headers, cancellationToken: ct);
            await foreach (var m in call.ResponseStream.ReadAllAsync(ct))
                if (m.MessageCase == WatchTrainingResponse.MessageOneofCase.Event) ApplyTraining(m.Event);
        },
        () => UpdateTraining(trainingId, t => t with { Resumes = t.Resumes + 1 }),
        problem => UpdateTraining(trainingId, t => t with { StreamProblem = problem is null ? null : $"reconnecting after sequence {t.LastSequence}: {problem}" }),
        why => UpdateTraining(trainingId, t => t with { State = TrainingJobPhase.Failed, Error = $"the host does not know this training: {why}" }));

    void ApplyTraining(TrainingEvent e)
    {
        UpdateTraining(e.TrainingId, t =>
        {
            if (e.Sequence <= t.LastSequence) return t; // already seen
            t = t with { LastSequence = e.Sequence, StreamProblem = null };
            switch (e.KindCase)
            {
                case TrainingEvent.KindOneofCase.Queued: return t with { State = TrainingJobPhase.Queued, QueuePosition = e.Queued.Position };
                case TrainingEvent.KindOneofCase.Started:
                    return t with
                    {
                        State = TrainingJobPhase.Running, QueuePosition = null, FeedbackPairs = e.Started.FeedbackPairs,
                        Prompts = e.Started.Prompts, Rounds = e.Started.Rounds,
                    };
                case TrainingEvent.KindOneofCase.Progress:
                {
                    var p = e.Progress;
                    return t with
                    {
                        State = TrainingJobPhase.Running, Round = p.Round, Phase = PhaseName(p.Phase), Done = p.Done, Total = p.Total,
                        EtaSeconds = p.EtaSeconds >= 0 ? p.EtaSeconds : null,
                    };
                }
                case TrainingEvent.KindOneofCase.Loss:
                {
                    var l = e.Loss;
                    var losses = t.LossCurve;
                    // Steps count on across rounds: a round starts after the last one's steps.
                    var last = losses.Count > 0 ? losses[^1] : (LossPoint?)null;
                    int offset = last is not { } p ? 0 : p.Round == l.Round ? p.Index - p.Step : p.Index - p.Step + p.Steps;
                    return t with { Losses = losses.Add(new LossPoint(offset + l.Step, l.Round, l.Step, l.Steps, l.Loss)) };
                }
                case TrainingEvent.KindOneofCase.RoundFinished:
                {
                    var r = e.RoundFinished;
                    return t with
                    {
                        FinishedRounds = t.RoundCurve.Add(new TrainingRoundView(r.Round, r.Kept, r.Prompts, r.TrainingPairs, r.TrainingSteps, r.FinalLoss,
                            r.RewardMean.ToImmutableSortedDictionary(StringComparer.Ordinal), r.SelectedMean.ToImmutableSortedDictionary(StringComparer.Ordinal))),
                    };
                }
                case TrainingEvent.KindOneofCase.Completed:
                    return t with { State = TrainingJobPhase.Completed, LoraId = e.Completed.LoraId, LoraPath = e.Completed.Path, Check = ToView(e.Completed.Evaluation) };
                case TrainingEvent.KindOneofCase.Failed:
                    return t with { State = TrainingJobPhase.Failed, Error = $"{e.Failed.Code}: {e.Failed.Message}", SuggestedFix = e.Failed.SuggestedFix };
                case TrainingEvent.KindOneofCase.Cancelled: return t with { State = TrainingJobPhase.Cancelled, Error = e.Cancelled.Reason };
                default: return t;
            }
        });
        if (e.KindCase == TrainingEvent.KindOneofCase.Completed) Refresh(); // the new LoRA is in the registry: list it
    }

    static string PhaseName(TrainingPhase phase) => phase switch
    {
        TrainingPhase.Generate => "generate",
        TrainingPhase.Score => "score",
        TrainingPhase.Select => "select",
        TrainingPhase.Train => "train",
        TrainingPhase.Preview => "preview",
        TrainingPhase.Evaluate => "evaluate",
        _ => "",
    };

    public void CancelTraining(string trainingId) => InBackground(async () =>
    {
        var response = await trainingRpc.CancelTrainingAsync(new CancelTrainingRequest { TrainingId = trainingId }, headers, cancellationToken: stopping.Token);
        if (response.Outcome == CancelOutcome.NotFound)
            UpdateTraining(trainingId, t => t with { State = TrainingJobPhase.Cancelled, Error = "the host did not know this training" });
    }, e => UpdateTraining(trainingId, t => t with { StreamProblem = $"cancel failed: {Why(e)}" }));

    /// <summary>Reads the host's LoRA registry (every profile's); part of the connection poll.</summary>
    async Task ListLorasAsync()
    {
        ImmutableList<LoraView> loras;
        string? problem = null;
        try
        {
            var response = await trainingRpc.ListLorasAsync(new ListLorasRequest(), headers, DateTime.UtcNow + CallTimeout, stopping.Token);
            loras = response.Loras.Select(ToView).ToImmutableList();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            loras = [];
            problem = "this host has no LoRA registry (no TrainingService)";
        }
        catch (RpcException e) when (!stopping.IsCancellationRequested)
        {
            Update(s => s.LorasProblem == $"could not list LoRAs: {Why(e)}" ? s : s with { LorasProblem = $"could not list LoRAs: {Why(e)}" });
            return; // keep the last list
        }
        Update(s => SameLoras(s.Loras, loras) && s.LorasProblem == problem ? s : s with { Loras = loras, LorasProblem = problem });
    }

    static bool SameLoras(ImmutableList<LoraView> a, ImmutableList<LoraView> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.LoraId == p.Second.LoraId && p.First.Active == p.Second.Active && p.First.Sha256 == p.Second.Sha256);

    static LoraView ToView(Lora l) => new(l.LoraId, l.ProfileId, l.TrainingId, l.Path, l.Sha256,
        l.CreateTime?.ToDateTimeOffset() ?? DateTimeOffset.MinValue, l.Active, l.Metrics.ToImmutableSortedDictionary(StringComparer.Ordinal), ToView(l.Evaluation));

    static LoraCheckView? ToView(LoraEvaluation? e) => e is null ? null : new(
        e.Rewards.Select(r => (r.Reward, r.BaseMean, r.NewMean)).ToList(),
        e.Verdict switch { LoraVerdict.Raised => "raised", LoraVerdict.Unchanged => "unchanged", LoraVerdict.Lowered => "lowered", _ => "unknown" },
        e.Prompts, e.ProbePrompts, e.Images, e.Activated);

    public void ActivateLora(string loraId) => LoraCall(loraId, "activate", async () =>
    {
        var lora = ToView((await trainingRpc.ActivateLoraAsync(new ActivateLoraRequest { LoraId = loraId }, headers, cancellationToken: stopping.Token)).Lora);
        // At most one active per profile: what the host did, shown before the next listing confirms it.
        Update(s => s with
        {
            Loras = s.Loras.Select(l => l.LoraId == lora.LoraId ? lora : l.ProfileId == lora.ProfileId ? l with { Active = false } : l).ToImmutableList(),
            LoraNotice = $"LoRA {Short(loraId)} is now the active one of profile {lora.ProfileId}",
        });
    });

    public void DeleteLora(string loraId) => LoraCall(loraId, "delete", async () =>
    {
        var lora = ToView((await trainingRpc.DeleteLoraAsync(new DeleteLoraRequest { LoraId = loraId }, headers, cancellationToken: stopping.Token)).Lora);
        Update(s => s with
        {
            Loras = s.Loras.RemoveAll(l => l.LoraId == lora.LoraId),
            LoraNotice = $"LoRA {Short(loraId)} of profile {lora.ProfileId} deleted{(lora.Active ? "; the profile has no active LoRA now" : "")}",
        });
    });

    void LoraCall(string loraId, string what, Func<Task> call) =>
        InBackground(call, e => Update(s => s with { LoraNotice = $"{what} LoRA {Short(loraId)} failed: {Why(e)}" }), Refresh);


    /// <summary>The first block of a UUID: enough to tell LoRAs apart on screen.</summary>
    public static string Short(string id) => id.Length > 8 && id[8] == '-' ? id[..8] : id;

    // ---- images and feedback -----------------------------------------------------------------

    async Task<byte[]> GetImageAsync(string imageId)
    {
        using var call = imagesRpc.GetImage(new GetImageRequest { ImageId = imageId }, headers, cancellationToken: stopping.Token);
        var bytes = new MemoryStream();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(stopping.Token)) chunk.Data.WriteTo(bytes);
        return bytes.ToArray();
    }

    async Task<string> PutImageAsync(byte[] png)
    {
        using var call = imagesRpc.PutImage(headers, cancellationToken: stopping.Token);
        var upload = Upload();
        // A host that refuses mid-upload (too large, not a PNG) answers at once but stops reading, so a write can
        // wait for flow control forever: its answer decides, and disposing the call ends the write.
        if (await Task.WhenAny(upload, call.ResponseAsync) != upload) return (await call.ResponseAsync).ImageId;
        try { await upload; }
        catch (RpcException)
        {
            // The host ended the upload early: a write then fails with a bare Cancelled; the host's reason is in
            // the response status, which this await throws.
            await call.ResponseAsync;
            throw;
        }
        return (await call).ImageId;

        async Task Upload()
        {
            for (int at = 0; at < png.Length; at += ChunkBytes)
                await call.RequestStream.WriteAsync(new PutImageRequest { Data = ByteString.CopyFrom(png, at, Math.Min(ChunkBytes, png.Length - at)) });
            await call.RequestStream.CompleteAsync();
        }
    }

    public string SendFeedback(string jobId, int candidateIndex, FeedbackChoice choice, string profile)
    {
        var job = Snapshot.Jobs.GetValueOrDefault(jobId) ?? throw new ArgumentException($"unknown job {jobId}", nameof(jobId));
        var candidate = candidateIndex < job.Candidates.Length ? job.Candidates[candidateIndex] : null;
        if (candidate is null) throw new ArgumentException($"job {jobId} has no candidate {candidateIndex} yet", nameof(candidateIndex));
        return StartFeedback(jobId, candidateIndex, choice, profile, job.Parameters.Prompt, () => Task.FromResult(candidate.ImageId));
    }

    public string SendEdited(string jobId, int candidateIndex, Dom.RgbImage edited, string profile)
    {
        var job = Snapshot.Jobs.GetValueOrDefault(jobId) ?? throw new ArgumentException($"unknown job {jobId}", nameof(jobId));
        byte[] png = PngCodec.Encode(edited);
        return StartFeedback(jobId, candidateIndex, FeedbackChoice.Edited, profile, job.Parameters.Prompt, () => PutImageAsync(png));
    }

    string StartFeedback(string jobId, int candidateIndex, FeedbackChoice choice, string profile, string prompt, Func<Task<string>> imageId)
    {
        string feedbackId = Guid.NewGuid().ToString();
        Update(s => s with { Feedback = s.Feedback.Add(new FeedbackView(feedbackId, jobId, candidateIndex, choice, FeedbackState.Sending)) });
        _ = Task.Run(async () =>
        {
            var backoff = TimeSpan.FromMilliseconds(250);
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    var request = new SubmitFeedbackRequest
                    {
                        FeedbackId = feedbackId,
                        UserId = ClientId,
                        ProfileId = profile,
                        Kind = choice switch { FeedbackChoice.Accepted => FeedbackKind.Accepted, FeedbackChoice.Rejected => FeedbackKind.Rejected, _ => FeedbackKind.Edited },
                        Prompt = prompt,
                        ImageId = await imageId(),
                        JobId = jobId,
                        CandidateIndex = candidateIndex,
                    };
                    await feedbackRpc.SubmitFeedbackAsync(request, headers, cancellationToken: stopping.Token);
                    SetFeedback(feedbackId, FeedbackState.Stored, null);
                    return;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 8 && !stopping.IsCancellationRequested)
                {
                    // Idempotent by feedback id: a retry after a lost answer stores nothing twice.
                    await Delay(backoff);
                    backoff *= 2;
                }
                catch (RpcException e)
                {
                    SetFeedback(feedbackId, FeedbackState.Failed, Why(e));
                    return;
                }
                catch (OperationCanceledException) { return; }
            }
        });
        return feedbackId;
    }

    void SetFeedback(string id, FeedbackState state, string? error) =>
        Update(s => s with { Feedback = s.Feedback.Select(f => f.FeedbackId == id ? f with { State = state, Error = error } : f).ToImmutableList() });

    async Task Delay(TimeSpan t)
    {
        try { await Task.Delay(t, stopping.Token); } catch (OperationCanceledException) { }
    }

    public void Dispose()
    {
        stopping.Cancel();
        try { connectionLoop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        channel.Dispose();
        streams.Dispose();
    }
}
