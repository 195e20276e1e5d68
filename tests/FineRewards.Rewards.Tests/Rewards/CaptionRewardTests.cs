using FineRewards.Rewards.Caption;

namespace FineRewards.Rewards.Tests.Rewards;

public sealed class CaptionRewardTests
{
    [Fact]
    public void Score_is_the_cosine_between_caption_and_prompt_with_one_captioner_call()
    {
        var captioner = new FakeCaptioner("a red circle", "a blue square", "a red disc");
        var embedder = new FakeEmbedder(new()
        {
            ["a red circle"] = [1, 0, 0],
            ["a blue square"] = [0, 1, 0],
            ["a red disc"] = [3, 4, 0],
        });
        var reward = new CaptionReward(captioner, embedder);

        var scores = reward.Score("a red circle", Images.WithIds(0, 1, 2, 0));

        Assert.Equal(1, captioner.Calls);
        Assert.Equal(1, embedder.Calls);
        Assert.Equal([1.0, 0.0, 0.6, 1.0], scores.Select(s => Math.Round(s.Score, 6)));
        Assert.Equal(["a red circle", "a blue square", "a red disc", "a red circle"], scores.Select(s => s.Evidence.Caption));
        Assert.All(scores, s => Assert.Equal("caption", s.Reward));
    }

    [Fact]
    public void A_captioner_that_loses_images_is_an_error()
    {
        var reward = new CaptionReward(new ShortCaptioner(), new FakeEmbedder(new() { ["x"] = [1] }));
        var e = Assert.Throws<InvalidOperationException>(() => reward.Score("x", Images.WithIds(0, 0)));
        Assert.Contains("1 captions for 2 images", e.Message);
    }

    sealed class ShortCaptioner : Contracts.ICaptioner
    {
        public string Name => "short";
        public IReadOnlyList<string> Caption(IReadOnlyList<Contracts.RgbImage> images, CancellationToken cancellationToken = default) => ["x"];
    }
}
