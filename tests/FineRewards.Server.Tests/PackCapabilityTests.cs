using FineRewards.Core.Packs;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Protocol.V1;
using FineRewards.Server.Models;
using Grpc.Core;

namespace FineRewards.Server.Tests;

/// <summary>What a pack accepts: listed in GetCapabilities, answered by CheckPrompt, enforced at submit before anything is queued.</summary>
public class PackCapabilityTests
{
    /// <summary>A baseline reward under the name the host treats as one.</summary>
    sealed class CoinReward : IReward
    {
        public string Name => "random";
        public string Version => "1";
        public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
            images.Select((_, i) => new RewardScore(Name, i % 2, new RewardEvidence())).ToList();
    }

    /// <summary>A stand-in grammar: prompts must start with "a " (the real pack passes its Shapes grammar).</summary>
    static readonly PackCapabilities Declared = new(
        Rewards: ["brightness", "redness", "random"], DefaultRewards: ["redness"], Samplers: ["ddim", "euler"],
        ExamplePrompt: "a red square");

    static void CheckGrammar(string prompt, string field)
    {
        if (!prompt.StartsWith("a ", StringComparison.Ordinal)) throw new InputException(field, $"\"{prompt}\" is not in the test grammar: expected \"a ...\"");
    }

    static Task<TestHost> Start(PackCapabilities? capabilities) =>
        TestHost.StartAsync(rewards: [new BrightnessReward(), new RednessReward(), new CoinReward()], capabilities: capabilities,
            checkPrompt: capabilities is null ? null : CheckGrammar);

    static async Task<List<string>> RankedWith(TestHost host, SubmitGenerationRequest request)
    {
        await host.Jobs.SubmitGenerationAsync(request);
        var events = await host.WatchToEndAsync(request.JobId);
        return events.First(e => e.KindCase == JobEvent.KindOneofCase.CandidateScored).CandidateScored.Rewards.Select(r => r.Reward).ToList();
    }

    [Fact]
    public async Task Capabilities_list_each_packs_rewards_defaults_and_samplers()
    {
        await using var host = await Start(Declared);
        var caps = await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
        var pack = caps.Packs.Single(p => p.Name == TestHost.Pack);
        Assert.Equal(["brightness", "redness", "random"], pack.Rewards);
        Assert.Equal(["redness"], pack.DefaultRewards);
        Assert.Equal(["ddim", "euler"], pack.Samplers);
    }

    [Fact]
    public async Task Without_rewards_a_job_ranks_with_the_packs_default_set()
    {
        await using var host = await Start(Declared);
        Assert.Equal(["redness"], await RankedWith(host, TestHost.Request()));
    }

    [Fact]
    public async Task Without_declared_defaults_a_job_ranks_with_every_reward_but_the_random_baseline()
    {
        await using var host = await Start(null);
        var caps = await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
        Assert.Equal(["brightness", "redness"], caps.Packs.Single(p => p.Name == TestHost.Pack).DefaultRewards);
        Assert.Equal(["brightness", "redness"], await RankedWith(host, TestHost.Request()));
        // Asked for, the baseline is used.
        var asked = TestHost.Request();
        asked.Rewards.Add("random");
        Assert.Equal(["random"], await RankedWith(host, asked));
    }

    [Fact]
    public async Task An_unknown_sampler_is_refused_at_submit_naming_the_field_and_the_samplers()
    {
        await using var host = await Start(Declared);
        var request = TestHost.Request();
        request.Sampler = "dpmsolver";
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.Jobs.SubmitGenerationAsync(request).ResponseAsync);
        Assert.Equal("sampler", field);
        Assert.Contains("expected one of ddim, euler", message);
        await RpcAssert.Fails(StatusCode.NotFound, () => host.WatchToEndAsync(request.JobId)); // nothing was queued
    }

    [Fact]
    public async Task An_unknown_reward_is_refused_naming_the_packs_rewards()
    {
        await using var host = await Start(Declared);
        var request = TestHost.Request();
        request.Rewards.Add("aesthetic");
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.Jobs.SubmitGenerationAsync(request).ResponseAsync);
        Assert.Equal("rewards[0]", field);
        Assert.Contains("brightness, redness, random", message);
    }

    [Fact]
    public async Task A_prompt_the_pack_refuses_is_refused_at_submit_and_by_CheckPrompt_with_the_same_message()
    {
        await using var host = await Start(Declared);
        var request = TestHost.Request(prompt: "one cat on a sofa");
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.Jobs.SubmitGenerationAsync(request).ResponseAsync);
        Assert.Equal("prompt", field);

        var check = await host.HostClient.CheckPromptAsync(new CheckPromptRequest { Prompt = "one cat on a sofa" });
        Assert.False(check.Ok);
        Assert.Equal(message, check.Message);
        Assert.Contains("not in the test grammar", check.Message);
        Assert.Contains("\"a red square\"", check.Fix);

        var good = await host.HostClient.CheckPromptAsync(new CheckPromptRequest { Pack = TestHost.Pack, Prompt = " a red square " });
        Assert.True(good.Ok, good.Message);
        Assert.Equal("", good.Message);
    }

    [Fact]
    public async Task CheckPrompt_refuses_an_empty_prompt_and_an_unknown_or_missing_pack()
    {
        await using var host = await Start(Declared);
        var empty = await host.HostClient.CheckPromptAsync(new CheckPromptRequest { Prompt = "  " });
        Assert.False(empty.Ok);
        Assert.StartsWith("prompt: empty", empty.Message);
        var unknown = await host.HostClient.CheckPromptAsync(new CheckPromptRequest { Pack = "nope", Prompt = "a red square" });
        Assert.False(unknown.Ok);
        Assert.StartsWith("pack: no pack named \"nope\"", unknown.Message);
        var missing = await host.HostClient.CheckPromptAsync(new CheckPromptRequest { Pack = "sd15", Prompt = "a red square" });
        Assert.False(missing.Ok);
        Assert.StartsWith("pack: pack \"sd15\" is missing", missing.Message);
        Assert.Contains(TestHost.Pack, missing.Fix);
    }
}
