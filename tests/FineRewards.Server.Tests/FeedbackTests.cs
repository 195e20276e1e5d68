using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using System.Diagnostics;
using FineRewards.Contracts;
using FineRewards.Protocol.V1;
using FineRewards.Server.Storage;
using FeedbackKind = FineRewards.Protocol.V1.FeedbackKind;
using Grpc.Core;
using Grpc.Net.Client;

namespace FineRewards.Server.Tests;

public class FeedbackTests
{
    static async Task<string> UploadAsync(TestHost host, byte shade)
    {
        var pixels = Enumerable.Repeat(shade, 8 * 8 * 3).ToArray();
        return (await host.PutImageAsync(PngCodec.Encode(new RgbImage(8, 8, pixels)))).ImageId;
    }

    static SubmitFeedbackRequest Feedback(string imageId, FeedbackKind kind = FeedbackKind.Edited, string profile = "p1") => new()
    {
        FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = profile, Kind = kind, Prompt = "a red square", ImageId = imageId,
    };

    [Fact]
    public async Task Feedback_on_a_candidate_is_stored_once_and_listed_by_profile()
    {
        await using var host = await TestHost.StartAsync();
        var job = TestHost.Request(k: 2);
        await host.Jobs.SubmitGenerationAsync(job);
        var ready = (await host.WatchToEndAsync(job.JobId)).First(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).CandidateReady;

        var accepted = Feedback(ready.ImageId, FeedbackKind.Accepted);
        accepted.JobId = job.JobId;
        accepted.CandidateIndex = ready.CandidateIndex;
        Assert.False((await host.Feedback.SubmitFeedbackAsync(accepted)).Existing);
        Assert.True((await host.Feedback.SubmitFeedbackAsync(accepted)).Existing); // a retry
        await host.Feedback.SubmitFeedbackAsync(Feedback(ready.ImageId, FeedbackKind.Rejected, profile: "p2"));

        var list = (await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "p1" })).Feedback;
        var f = Assert.Single(list);
        Assert.Equal((accepted.FeedbackId, FeedbackKind.Accepted, job.JobId, ready.ImageId), (f.FeedbackId, f.Kind, f.JobId, f.ImageId));

        var (field, _) = await RpcAssert.Fails(StatusCode.AlreadyExists,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(accepted) { Kind = FeedbackKind.Rejected }));
        Assert.Equal("feedback_id", field);
    }

    [Fact]
    public async Task Feedback_must_name_an_image_the_host_has()
    {
        await using var host = await TestHost.StartAsync();
        var (field, message) = await RpcAssert.Fails(StatusCode.NotFound,
            async () => await host.Feedback.SubmitFeedbackAsync(Feedback(ImageStore.IdOf([1, 2]))));
        Assert.Equal("image_id", field);
        Assert.Contains("PutImage", message);
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(await UploadAsync(host, 1))) { Kind = FeedbackKind.Unspecified }));
        Assert.Equal("kind", field);
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(await UploadAsync(host, 1))) { ProfileId = "" }));
        Assert.Equal("profile_id", field);
    }

    [Fact]
    public async Task Feedback_naming_an_unknown_job_or_a_candidate_it_does_not_have_is_refused_and_not_stored()
    {
        await using var host = await TestHost.StartAsync();
        var job = TestHost.Request(k: 2);
        await host.Jobs.SubmitGenerationAsync(job);
        await host.WatchToEndAsync(job.JobId);
        string image = await UploadAsync(host, 3);

        var (field, message) = await RpcAssert.Fails(StatusCode.NotFound,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(image)) { JobId = Guid.NewGuid().ToString() }));
        Assert.Equal("job_id", field);
        Assert.Contains("no job", message);
        (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(image)) { JobId = job.JobId, CandidateIndex = 2 }));
        Assert.Equal("candidate_index", field);
        Assert.Contains("which has 2 (0 to 1)", message);
        Assert.Empty((await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "p1" })).Feedback);

        // The job's last candidate is a candidate.
        await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(image)) { JobId = job.JobId, CandidateIndex = 1 });
        Assert.Single((await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "p1" })).Feedback);
    }

    [Fact]
    public async Task An_unknown_feedback_kind_is_named_as_unknown_not_missing()
    {
        await using var host = await TestHost.StartAsync();
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest(Feedback(await UploadAsync(host, 1))) { Kind = (FeedbackKind)77 }));
        Assert.Equal("kind", field);
        Assert.StartsWith("kind: unknown value 77", message);
    }

    [Fact]
    public async Task Feedback_and_finished_jobs_survive_a_restart_and_an_interrupted_job_is_marked_failed()
    {
        string dir = TestHost.NewDataDirectory();
        try
        {
            var gate = new ManualResetEventSlim(false);
            SubmitFeedbackRequest feedback;
            SubmitGenerationRequest finished, interrupted;
            List<JobEvent> finishedEvents;
            await using (var first = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, dataDirectory: dir))
            {
                feedback = Feedback(await UploadAsync(first, 200));
                await first.Feedback.SubmitFeedbackAsync(feedback);
                finished = TestHost.Request(k: 1, steps: 1); // the gate waits after step 1 only when steps remain
                gate.Set();
                await first.Jobs.SubmitGenerationAsync(finished);
                finishedEvents = await first.WatchToEndAsync(finished.JobId);
                gate.Reset();
                interrupted = TestHost.Request(k: 2);
                await first.Jobs.SubmitGenerationAsync(interrupted);
                await first.WatchUntilAsync(interrupted.JobId, e => e.KindCase == JobEvent.KindOneofCase.Progress);
            } // the host stops with the job still running

            await using var second = await TestHost.StartAsync(dataDirectory: dir);
            var list = (await second.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = feedback.ProfileId })).Feedback;
            Assert.Equal(feedback.FeedbackId, Assert.Single(list).FeedbackId);
            Assert.Equal(feedback.ImageId, list[0].ImageId);
            Assert.True(await second.GetImageAsync(feedback.ImageId) is { Length: > 0 });

            Assert.Equal(finishedEvents.Select(e => e.ToString()), (await second.WatchToEndAsync(finished.JobId)).Select(e => e.ToString()));
            var events = await second.WatchToEndAsync(interrupted.JobId);
            Assert.Equal(FailureCode.HostRestarted, events[^1].Failed.Code);
            Assert.Equal("host restarted while the job was running", events[^1].Failed.Message);
            Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
            Assert.True((await second.Jobs.SubmitGenerationAsync(interrupted)).Existing);
        }
        finally { TestHost.TryDelete(dir); }
    }

    [Fact]
    public async Task Acknowledged_feedback_survives_killing_the_host_process()
    {
        string dir = TestHost.NewDataDirectory();
        try
        {
            string assembly = typeof(Program).Assembly.Location;
            var startInfo = new ProcessStartInfo("dotnet") { ArgumentList = { assembly, Program.ServeChild, dir }, RedirectStandardOutput = true, RedirectStandardError = true };
            using var child = new Process { StartInfo = startInfo };
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var errors = new System.Text.StringBuilder();
            child.OutputDataReceived += (_, e) => { if (e.Data?.StartsWith("listening on ") == true) listening.TrySetResult(e.Data["listening on ".Length..]); };
            child.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
            child.Start();
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            string address;
            try
            {
                if (await Task.WhenAny(listening.Task, Task.Delay(TimeSpan.FromSeconds(30))) != listening.Task)
                    Assert.Fail($"child host did not start within 30 s: {errors}");
                address = await listening.Task;
                using var channel = GrpcChannel.ForAddress(address);
                var images = new ImageService.ImageServiceClient(channel);
                var feedbackClient = new FeedbackService.FeedbackServiceClient(channel);
                var jobs = new GenerationService.GenerationServiceClient(channel);
                var png = PngCodec.Encode(new RgbImage(4, 4, new byte[48]));
                using (var put = images.PutImage())
                {
                    await put.RequestStream.WriteAsync(new PutImageRequest { Data = Google.Protobuf.ByteString.CopyFrom(png) });
                    await put.RequestStream.CompleteAsync();
                    await put;
                }
                var feedback = Feedback(ImageStore.IdOf(png));
                await feedbackClient.SubmitFeedbackAsync(feedback);
                var job = TestHost.Request(k: 1, steps: 50); // 200 ms a step in the child: still running when killed
                await jobs.SubmitGenerationAsync(job);
                using (var watch = jobs.WatchJob(new WatchJobRequest { JobId = job.JobId }))
                    await foreach (var m in watch.ResponseStream.ReadAllAsync())
                        if (m.Event?.KindCase == JobEvent.KindOneofCase.Progress) break;
                child.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
                await child.WaitForExitAsync();
                await using var host = await TestHost.StartAsync(dataDirectory: dir);
                var list = (await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = feedback.ProfileId })).Feedback;
                Assert.Equal(feedback.FeedbackId, Assert.Single(list).FeedbackId);
                var events = await host.WatchToEndAsync(job.JobId);
                Assert.Equal(FailureCode.HostRestarted, events[^1].Failed.Code);
            }
            finally
            {
                if (!child.HasExited) child.Kill(entireProcessTree: true);
            }
        }
        finally { TestHost.TryDelete(dir); }
    }
}
