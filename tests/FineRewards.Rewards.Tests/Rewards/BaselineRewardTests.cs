using FineRewards.Contracts;
using FineRewards.Rewards.Baselines;

namespace FineRewards.Rewards.Tests.Rewards;

public sealed class BaselineRewardTests
{
    [Fact]
    public void Random_reward_is_deterministic_per_seed_and_varies_across_candidates()
    {
        var images = Images.WithIds(0, 0, 0, 0, 0, 0, 0, 0);
        var a = new RandomReward(7).Score("a red circle", images).Select(s => s.Score).ToArray();
        var again = new RandomReward(7).Score("a red circle", images).Select(s => s.Score).ToArray();
        var otherSeed = new RandomReward(8).Score("a red circle", images).Select(s => s.Score).ToArray();
        var otherPrompt = new RandomReward(7).Score("a blue square", images).Select(s => s.Score).ToArray();

        Assert.Equal(a, again);
        Assert.NotEqual(a, otherSeed);
        Assert.NotEqual(a, otherPrompt);
        Assert.Equal(8, a.Distinct().Count());
        Assert.All(a, s => Assert.InRange(s, 0.0, 0.9999999999));
    }

    [Fact]
    public void Clip_score_is_two_and_a_half_times_the_clamped_cosine()
    {
        var model = new FakeClip();
        var scores = new ClipScoreReward(model).Score("p", Images.WithIds(0, 1, 2));
        Assert.Equal([2.5, 2.5 * 0.6, 0.0], scores.Select(s => Math.Round(s.Score, 6)));
        Assert.Equal("-1", scores[2].Evidence.Details!["cosine"]);
    }

    sealed class FakeClip : IImageTextEmbedder
    {
        public string Name => "fake-clip";
        public int Dimension => 2;
        public IReadOnlyList<float[]> EmbedTexts(IReadOnlyList<string> texts, CancellationToken cancellationToken = default) => texts.Select(_ => new float[] { 1, 0 }).ToList();
        public IReadOnlyList<float[]> EmbedImages(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
            images.Select(i => i.Pixels[0] switch { 0 => new float[] { 1, 0 }, 1 => new float[] { 0.6f, 0.8f }, _ => new float[] { -1, 0 } }).ToList();
    }
}
