using System.Collections.Immutable;
using FineRewards.Core.Contracts;
using FineRewards.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Dom = FineRewards.Core.Contracts;
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

    public event Action? Changed;
    public ClientSnapshot Snapshot => Volatile.Read(ref snapshot);

    /// <param name="address">e.g. http://127.0.0.1:50151</param>
    /// <param name="clientId">Names this editor to the host's fair queue.</param>
    /// <param name="token">The host's bearer token, when it has one.</param>
    public HostClient(string address, string clientId = "editor", string? token = null)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            throw new FineRewards.Core.InputException("address", $"\"{address}\" is not an http:// or https:// address of a FineRewards host (e.g. http://127.0.0.1:50151)");
        Address = address;
        ClientId = clientId;
        if (!string.IsNullOrEmpty(token)) headers.Add("authorization", $"Bearer {token}");
        channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { MaxReceiveMessageSize = 4 * 1024 * 1024 });
        hostRpc = new HostService.HostServiceClient(channel);
        jobsRpc = new GenerationService.GenerationServiceClient(channel);
        imagesRpc = new ImageService.ImageServiceClient(channel);
        feedbackRpc = new FeedbackService.FeedbackServiceClient(channel);
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
                status = new ConnectionStatus(ConnectionState.Unreachable, $"host unreachable at {Address}: {Why(e)}", [Why(e)], null);
            }
            catch (OperationCanceledException) { return; }
            Update(s => s.Connection == status || SameStatus(s.Connection, status) ? s : s with { Connection = status });
            var wait = status.State == ConnectionState.Unreachable ? retry : PollInterval;
            if (status.State == ConnectionState.Unreachable) retry = TimeSpan.FromTicks(Math.Min(PollInterval.Ticks, retry.Ticks * 2));
            try { await refresh.WaitAsync(wait, stopping.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    static bool SameStatus(ConnectionStatus a, ConnectionStatus b) =>
        a.State == b.State && a.Message == b.Message && a.Problems.SequenceEqual(b.Problems) && Equals(a.Host?.HostVersion, b.Host?.HostVersion)
        && (a.Host?.ReadyPacks ?? []).SequenceEqual(b.Host?.ReadyPacks ?? []) && (a.Host?.Rewards ?? []).SequenceEqual(b.Host?.Rewards ?? []);

    static string Why(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unavailable => string.IsNullOrEmpty(e.Status.Detail) ? "unavailable" : e.Status.Detail,
        StatusCode.DeadlineExceeded => "no answer within the timeout",
        StatusCode.Unauthenticated => "the host wants a token (authorization: Bearer)",
        _ => $"{e.StatusCode}: {e.Status.Detail}",
    };

    static ConnectionStatus StatusOf(GetCapabilitiesResponse caps)
    {
        var ready = caps.Packs.Where(p => p.State == PackState.Ready).Select(p => p.Name).ToList();
        var info = new HostInfo(caps.ProtocolVersion, caps.HostVersion, caps.Device?.Name ?? "", caps.DefaultPack, ready,
            caps.Rewards.Select(r => r.Name).ToList(), caps.Limits?.MaxK ?? 16, caps.Limits?.MaxSteps ?? 100,
            caps.Limits?.MaxWidth ?? 64, caps.Limits?.MaxHeight ?? 64);
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
        };
        request.Rewards.AddRange(p.Rewards ?? []);
        foreach (var l in p.Loras ?? []) request.Loras.Add(new LoraWeight { Name = l.Path, Scale = l.Scale });
        AddJob(jobId, p, JobPhase.Submitting);
        _ = Task.Run(async () =>
        {
            var backoff = TimeSpan.FromMilliseconds(250);
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    var response = await jobsRpc.SubmitGenerationAsync(request, headers, cancellationToken: stopping.Token);
                    UpdateJob(jobId, j => j with { Phase = j.Phase == JobPhase.Submitting ? JobPhase.Queued : j.Phase, StreamProblem = null });
                    await WatchAsync(jobId);
                    return;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && !stopping.IsCancellationRequested)
                {
                    // Idempotent by job id: retrying can never queue the job twice.
                    UpdateJob(jobId, j => j with { StreamProblem = $"retrying submit: {Why(e)}" });
                    await Delay(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, backoff.Ticks * 2));
                }
                catch (RpcException e)
                {
                    string field = e.Trailers.GetValue("finerewards-field") ?? "";
                    UpdateJob(jobId, j => j with { Phase = JobPhase.Failed, Error = e.Status.Detail, SuggestedFix = field.Length > 0 ? $"check {field}" : null, StreamProblem = null });
                    return;
                }
                catch (OperationCanceledException) { return; }
            }
        });
        return jobId;
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

    async Task WatchAsync(string jobId)
    {
        lock (gate) if (!watching.Add(jobId)) return;
        try
        {
            var backoff = TimeSpan.FromMilliseconds(100);
            while (!stopping.IsCancellationRequested)
            {
                var job = Snapshot.Jobs[jobId];
                if (job.Finished) return;
                CancellationToken dropped;
                lock (gate) dropped = streams.Token;
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token, dropped);
                try
                {
                    if (job.LastSequence > 0) UpdateJob(jobId, j => j with { Resumes = j.Resumes + 1 });
                    using var call = jobsRpc.WatchJob(new WatchJobRequest { JobId = jobId, AfterSequence = job.LastSequence }, headers, cancellationToken: linked.Token);
                    await foreach (var m in call.ResponseStream.ReadAllAsync(linked.Token))
                    {
                        if (m.MessageCase != WatchJobResponse.MessageOneofCase.Event) continue;
                        await ApplyAsync(m.Event);
                        backoff = TimeSpan.FromMilliseconds(100);
                    }
                }
                catch (Exception e) when (dropped.IsCancellationRequested && !stopping.IsCancellationRequested && e is OperationCanceledException or RpcException)
                {
                    continue; // Reconnect(): open the stream again at once
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    UpdateJob(jobId, j => j with { Phase = JobPhase.Failed, Error = $"the host does not know this job: {e.Status.Detail}" });
                    return;
                }
                catch (RpcException e) when (!stopping.IsCancellationRequested)
                {
                    UpdateJob(jobId, j => j with { StreamProblem = $"reconnecting after sequence {j.LastSequence}: {Why(e)}" });
                    await Delay(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, backoff.Ticks * 2));
                }
                catch (OperationCanceledException) { return; }
            }
        }
        finally
        {
            lock (gate) watching.Remove(jobId);
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
            try { full = ImageCodec.DecodePng(await GetImageAsync(ready.ImageId), $"image {ready.ImageId}"); }
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
                case JobEvent.KindOneofCase.Progress: return j with { Phase = JobPhase.Running, Step = e.Progress.Step, Steps = e.Progress.Steps };
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

    public void Cancel(string jobId)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                var response = await jobsRpc.CancelJobAsync(new CancelJobRequest { JobId = jobId }, headers, cancellationToken: stopping.Token);
                // The cancelled event arrives on the stream; a job that was not found is marked here.
                if (response.Outcome == CancelOutcome.NotFound)
                    UpdateJob(jobId, j => j with { Phase = JobPhase.Cancelled, Error = "the host did not know this job" });
            }
            catch (RpcException e) when (!stopping.IsCancellationRequested)
            {
                UpdateJob(jobId, j => j with { StreamProblem = $"cancel failed: {Why(e)}" });
            }
            catch (OperationCanceledException) { }
        });
    }

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
        try
        {
            for (int at = 0; at < png.Length; at += ChunkBytes)
                await call.RequestStream.WriteAsync(new PutImageRequest { Data = ByteString.CopyFrom(png, at, Math.Min(ChunkBytes, png.Length - at)) });
            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The host ended the upload early (too large, not a PNG): a write then fails with a bare
            // Cancelled; the host's reason is in the response status, which this await throws.
            await call.ResponseAsync;
            throw;
        }
        return (await call).ImageId;
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
        byte[] png = ImageCodec.EncodePng(edited);
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
