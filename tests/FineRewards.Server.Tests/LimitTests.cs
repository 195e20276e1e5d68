using FineRewards.Protocol.V1;
using HostLimits = FineRewards.Server.Jobs.HostLimits;
using Grpc.Core;

namespace FineRewards.Server.Tests;

public class LimitTests
{
    static readonly HostLimits Limits = new(MaxK: 4, MaxWidth: 64, MaxHeight: 32, MaxSteps: 10, MaxPromptLength: 50, MaxQueuedJobs: 2, MaxUploadBytes: 4096);

    public static TheoryData<string, string> InvalidRequests => new()
    {
        { "job_id", "missing" },
        { "job_id", "not-a-uuid" },
        { "prompt", "empty" },
        { "prompt", "too long" },
        { "negative_prompt", "too long" },
        { "k", "zero" },
        { "k", "over limit" },
        { "steps", "over limit" },
        { "steps", "negative" },
        { "width", "over limit" },
        { "height", "over limit" },
        { "width", "not a multiple of 8" },
        { "guidance", "negative" },
        { "base_seed", "negative" },
        { "base_seed", "last candidate past the int64 maximum" },
        { "preview_policy", "unknown" },
        { "seed_policy", "unknown" },
        { "combine_method", "unknown" },
        { "sampler", "bad name" },
        { "pack", "unknown" },
        { "rewards[1]", "unknown" },
        { "rewards[1]", "duplicate" },
        { "single_reward", "not a job reward" },
        { "reward_weights.brightness", "negative" },
        { "loras[0].name", "no such file" },
    };

    static SubmitGenerationRequest Break(string field, string how)
    {
        var r = TestHost.Request(k: 2, steps: 2);
        switch (field, how)
        {
            case ("job_id", "missing"): r.JobId = ""; break;
            case ("job_id", _): r.JobId = how; break;
            case ("prompt", "empty"): r.Prompt = "   "; break;
            case ("prompt", _): r.Prompt = new string('x', 51); break;
            case ("negative_prompt", _): r.NegativePrompt = new string('x', 51); break;
            case ("k", "zero"): r.K = 0; break;
            case ("k", _): r.K = 5; break;
            case ("steps", "negative"): r.Steps = -1; break;
            case ("steps", _): r.Steps = 11; break;
            case ("width", "over limit"): r.Width = 72; break;
            case ("width", _): r.Width = 20; break;
            case ("height", _): r.Height = 40; break;
            case ("guidance", _): r.Guidance = -1; break;
            case ("base_seed", "negative"): r.BaseSeed = -5; break;
            case ("base_seed", _): r.BaseSeed = long.MaxValue; break; // k = 2: seeds max and max + 1
            case ("preview_policy", _): r.PreviewPolicy = (PreviewPolicy)42; break;
            case ("seed_policy", _): r.SeedPolicy = (SeedPolicy)42; break;
            case ("combine_method", _): r.CombineMethod = (CombineMethod)42; break;
            case ("sampler", _): r.Sampler = "../etc"; break;
            case ("pack", _): r.Pack = "nope"; break;
            case ("rewards[1]", "unknown"): r.Rewards.Add(["brightness", "beauty"]); break;
            case ("rewards[1]", _): r.Rewards.Add(["brightness", "brightness"]); break;
            case ("single_reward", _): r.Rewards.Add("brightness"); r.CombineMethod = CombineMethod.Single; r.SingleReward = "redness"; break;
            case ("reward_weights.brightness", _): r.RewardWeights["brightness"] = -1; break;
            case ("loras[0].name", _): r.Loras.Add(new LoraWeight { Name = "/nonexistent/style.safetensors", Scale = 1 }); break;
            default: throw new ArgumentException($"{field} {how}");
        }
        return r;
    }

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_submissions_are_refused_before_queueing_naming_the_field(string field, string how)
    {
        await using var host = await TestHost.StartAsync(limits: Limits);
        var (reported, message) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Jobs.SubmitGenerationAsync(Break(field, how)));
        Assert.Equal(field, reported);
        Assert.StartsWith(field + ": ", message);
    }

    [Fact]
    public async Task Seeds_up_to_the_int64_maximum_are_used_as_given_and_increment_starts_again_from_zero()
    {
        await using var host = await TestHost.StartAsync(limits: Limits);
        var last = TestHost.Request(k: 2, steps: 2);
        last.BaseSeed = long.MaxValue - 1;
        last.SeedPolicy = SeedPolicy.Increment;
        last.ClientId = "c";
        await host.Jobs.SubmitGenerationAsync(last);
        var seeds = (await host.WatchToEndAsync(last.JobId)).Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady.Seed);
        Assert.Equal([long.MaxValue - 1, long.MaxValue], seeds.Order());

        // The client's next INCREMENT job would continue past the maximum: it starts again from 0, never negative.
        var next = TestHost.Request(k: 2, steps: 2);
        next.SeedPolicy = SeedPolicy.Increment;
        next.ClientId = "c";
        await host.Jobs.SubmitGenerationAsync(next);
        seeds = (await host.WatchToEndAsync(next.JobId)).Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady.Seed);
        Assert.Equal([0L, 1], seeds.Order());
    }

    [Fact]
    public async Task Limit_messages_state_the_limit()
    {
        await using var host = await TestHost.StartAsync(limits: Limits);
        var (_, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Jobs.SubmitGenerationAsync(Break("k", "over limit")));
        Assert.Equal("k: 5 candidates exceeds the host's limit of 4", message);
    }

    [Fact]
    public async Task A_pack_with_missing_files_is_a_failed_precondition_naming_the_paths()
    {
        await using var host = await TestHost.StartAsync(limits: Limits);
        var r = TestHost.Request(k: 1);
        r.Pack = "sd15";
        var (field, message) = await RpcAssert.Fails(StatusCode.FailedPrecondition, async () => await host.Jobs.SubmitGenerationAsync(r));
        Assert.Equal("pack", field);
        Assert.Contains(Path.Combine("finerewards-no-packs", "sd15"), message);
    }

    [Fact]
    public async Task A_full_queue_refuses_new_jobs_until_one_leaves()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, limits: Limits);
        var running = TestHost.Request(k: 1, steps: 2);
        await host.Jobs.SubmitGenerationAsync(running);
        await host.WatchUntilAsync(running.JobId, e => e.KindCase == JobEvent.KindOneofCase.Started);
        var queued = new[] { TestHost.Request(k: 1, steps: 2), TestHost.Request(k: 1, steps: 2) };
        foreach (var q in queued) await host.Jobs.SubmitGenerationAsync(q);

        var (field, message) = await RpcAssert.Fails(StatusCode.ResourceExhausted,
            async () => await host.Jobs.SubmitGenerationAsync(TestHost.Request(k: 1, steps: 2)));
        Assert.Contains("limit of 2", message);
        // A retry of a queued job is not a new job and is answered even when the queue is full.
        Assert.True((await host.Jobs.SubmitGenerationAsync(queued[0])).Existing);

        await host.Jobs.CancelJobAsync(new CancelJobRequest { JobId = queued[1].JobId });
        Assert.False((await host.Jobs.SubmitGenerationAsync(TestHost.Request(k: 1, steps: 2))).Existing);
        gate.Set();
    }
}
