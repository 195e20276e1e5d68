using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Services;
using FineRewards.Server.Storage;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Tests;

public class SkipTests
{
    /// <summary>The job queue and runner without gRPC: the domain core a host service calls.</summary>
    sealed class InProcessHost : IAsyncDisposable
    {
        readonly string dir = TestHost.NewDataDirectory();
        readonly HostDatabase db;
        public JobManager Jobs { get; }

        public InProcessHost(SolidColourGenerator generator)
        {
            var options = new HostOptions(dir, Port: 0, LogToConsole: false);
            db = new HostDatabase(options.DatabasePath);
            var catalog = new ModelCatalog(TestHost.Models(generator), NullLogger<ModelCatalog>.Instance);
            catalog.StartLoading(CancellationToken.None);
            var runner = new JobRunner(catalog, new ImageStore(options.ImagesFolder), NullLogger<JobRunner>.Instance);
            Jobs = new JobManager(db, catalog, options, runner, NullLogger<JobManager>.Instance);
            Jobs.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        public Job Submit(int k) => Jobs.Submit(TestHost.Request(k: k, steps: 3).ToDomain()).Job;

        public async ValueTask DisposeAsync()
        {
            await Jobs.StopAsync(CancellationToken.None);
            Jobs.Dispose();
            db.Dispose();
            TestHost.TryDelete(dir);
        }
    }

    [Fact]
    public async Task In_process_a_candidate_skipped_while_queued_is_not_generated_scored_or_ranked()
    {
        var gate = new ManualResetEventSlim(false);
        var generator = new SolidColourGenerator { Gate = gate };
        await using var host = new InProcessHost(generator);
        var blocker = host.Submit(k: 1);
        var job = host.Submit(k: 4);
        Assert.Equal(JobState.Queued, job.State);

        var (outcome, sequence, _) = host.Jobs.Skip(job.Id, 2);
        Assert.Equal(SkipOutcome.NotGenerated, outcome);
        var again = host.Jobs.Skip(job.Id, 2);
        Assert.Equal((SkipOutcome.AlreadySkipped, sequence), (again.Outcome, again.Sequence));
        gate.Set();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await job.WaitFinishedAsync(timeout.Token);

        var events = job.After(0).Events.Select(e => e.Data).ToList();
        var skipped = Assert.Single(events.OfType<CandidateSkippedEvent>());
        Assert.Equal(new CandidateSkippedEvent(2, job.BaseSeed + 2, SkipOutcome.NotGenerated), skipped);
        Assert.Equal([0, 1, 3], events.OfType<CandidateReadyEvent>().Select(e => e.CandidateIndex));
        Assert.Equal([job.BaseSeed, job.BaseSeed + 1, job.BaseSeed + 3], events.OfType<CandidateReadyEvent>().Select(e => e.Seed));
        Assert.Equal([0, 1, 3], events.OfType<CandidateScoredEvent>().Select(e => e.CandidateIndex).Order());
        var ranked = Assert.Single(events.OfType<JobRankedEvent>());
        Assert.Equal([0, 1, 3], ranked.Order.Order());
        Assert.IsType<JobCompletedEvent>(events[^1]);
        // Generated as the runs 0..1 and 3, each candidate with its own seed: candidate 2's never was.
        var requests = generator.Requests.Skip(1).ToList();
        Assert.Equal([(2, 1L), (1, 4L)], requests.Select(r => (r.K, r.BaseSeed)));
        Assert.Equal(JobState.Completed, blocker.State);
    }

    [Fact]
    public async Task In_process_a_candidate_skipped_while_its_batch_runs_is_dropped_from_scoring_and_ranking()
    {
        var gate = new ManualResetEventSlim(false);
        var generator = new SolidColourGenerator { Gate = gate };
        await using var host = new InProcessHost(generator);
        var job = host.Submit(k: 3);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var (soFar, _, changed) = job.After(0);
            if (soFar.Any(e => e.Data is StepProgressEvent)) break;   // the generator now waits at the gate
            await changed.WaitAsync(timeout.Token);
        }

        Assert.Equal(SkipOutcome.ResultDropped, host.Jobs.Skip(job.Id, 0).Outcome);
        gate.Set();
        await job.WaitFinishedAsync(timeout.Token);

        var events = job.After(0).Events.Select(e => e.Data).ToList();
        Assert.DoesNotContain(events, e => e is CandidateReadyEvent { CandidateIndex: 0 } or CandidateScoredEvent { CandidateIndex: 0 });
        Assert.Equal([1, 2], Assert.Single(events.OfType<JobRankedEvent>()).Order.Order());
        Assert.Equal(3, Assert.Single(generator.Requests).K);   // the batch ran whole; the result was dropped
        // Nothing left to skip once the job has finished.
        var refused = Assert.Throws<HostException>(() => host.Jobs.Skip(job.Id, 1));
        Assert.Equal((RefusalKind.FailedPrecondition, "job_id"), (refused.Kind, refused.Field));
    }

    [Fact]
    public async Task Over_loopback_skip_sends_an_event_and_the_ranking_leaves_the_candidate_out()
    {
        var gate = new ManualResetEventSlim(false);
        string dir = TestHost.NewDataDirectory();
        try
        {
            string jobId;
            long skippedAt;
            await using (var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, dataDirectory: dir))
                (jobId, skippedAt) = await SkipQueuedCandidateAndWatch(host, gate);
            // After a restart the stored skip still answers a repeated request the same way.
            await using var restarted = await TestHost.StartAsync(dataDirectory: dir);
            var again = await restarted.Jobs.SkipCandidateAsync(new Api.SkipCandidateRequest { JobId = jobId, CandidateIndex = 1 });
            Assert.Equal((Api.SkipOutcome.AlreadySkipped, skippedAt), (again.Outcome, again.Sequence));
            Assert.Single(await restarted.WatchToEndAsync(jobId), e => e.KindCase == Api.JobEvent.KindOneofCase.CandidateSkipped);
        }
        finally
        {
            TestHost.TryDelete(dir);
        }
    }

    /// <summary>Skips candidate 1 of a queued best-of-3, lets it run, checks its events; returns the job id and the skip's sequence.</summary>
    static async Task<(string JobId, long Sequence)> SkipQueuedCandidateAndWatch(TestHost host, ManualResetEventSlim gate)
    {
        var blocker = TestHost.Request(k: 1);
        var request = TestHost.Request(k: 3);
        await host.Jobs.SubmitGenerationAsync(blocker);
        await host.Jobs.SubmitGenerationAsync(request);

        var skip = await host.Jobs.SkipCandidateAsync(new Api.SkipCandidateRequest { JobId = request.JobId, CandidateIndex = 1 });
        Assert.Equal((Api.SkipOutcome.NotGenerated, Api.JobState.Queued), (skip.Outcome, skip.State));
        var again = await host.Jobs.SkipCandidateAsync(new Api.SkipCandidateRequest { JobId = request.JobId, CandidateIndex = 1 });
        Assert.Equal((Api.SkipOutcome.AlreadySkipped, skip.Sequence), (again.Outcome, again.Sequence));
        gate.Set();

        var events = await host.WatchToEndAsync(request.JobId);
        var skipped = events.Single(e => e.KindCase == Api.JobEvent.KindOneofCase.CandidateSkipped);
        Assert.Equal(skip.Sequence, skipped.Sequence);
        Assert.Equal((1, request.BaseSeed + 1, Api.SkipOutcome.NotGenerated),
            (skipped.CandidateSkipped.CandidateIndex, skipped.CandidateSkipped.Seed, skipped.CandidateSkipped.Outcome));
        Assert.Equal([0, 2], events.Where(e => e.KindCase == Api.JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady.CandidateIndex));
        Assert.Equal([0, 2], events.Where(e => e.KindCase == Api.JobEvent.KindOneofCase.CandidateScored).Select(e => e.CandidateScored.CandidateIndex).Order());
        Assert.Equal([0, 2], events.Single(e => e.KindCase == Api.JobEvent.KindOneofCase.Ranked).Ranked.Order.Order());
        Assert.Equal(Api.JobEvent.KindOneofCase.Completed, events[^1].KindCase);
        return (request.JobId, skip.Sequence);
    }

    [Fact]
    public async Task Skip_refuses_an_unknown_job_a_bad_index_a_finished_job_and_the_last_candidate()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate });
        var request = TestHost.Request(k: 2);
        await host.Jobs.SubmitGenerationAsync(request);

        Task Skip(string jobId, int index) => host.Jobs.SkipCandidateAsync(new Api.SkipCandidateRequest { JobId = jobId, CandidateIndex = index }).ResponseAsync;
        Assert.Equal("job_id", (await RpcAssert.Fails(StatusCode.NotFound, () => Skip(Guid.NewGuid().ToString(), 0))).Field);
        Assert.Equal("job_id", (await RpcAssert.Fails(StatusCode.InvalidArgument, () => Skip("not-a-uuid", 0))).Field);
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => Skip(request.JobId, 2));
        Assert.Equal("candidate_index", field);
        Assert.Contains("0..1", message);
        Assert.Equal("candidate_index", (await RpcAssert.Fails(StatusCode.InvalidArgument, () => Skip(request.JobId, -1))).Field);

        await Skip(request.JobId, 0);
        (field, message) = await RpcAssert.Fails(StatusCode.FailedPrecondition, () => Skip(request.JobId, 1));
        Assert.Equal("candidate_index", field);
        Assert.Contains("CancelJob", message);

        gate.Set();
        Assert.Equal(Api.JobEvent.KindOneofCase.Completed, (await host.WatchToEndAsync(request.JobId))[^1].KindCase);
        Assert.Equal("job_id", (await RpcAssert.Fails(StatusCode.FailedPrecondition, () => Skip(request.JobId, 1))).Field);
    }
}
