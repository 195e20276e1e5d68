using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Judges;
using FineRewards.Rewards.Segments;

namespace FineRewards.Rewards.Tests.Judge;

public class LexicalLabelJudgeTests
{
    readonly LexicalLabelJudge _judge = new();

    [Theory]
    [InlineData("a red circle", "red circle", Verdict.Certain)]
    [InlineData("a red circle", "red square", Verdict.May)]       // same colour
    [InlineData("a red circle", "blue circle", Verdict.May)]      // same shape
    [InlineData("a red circle", "blue square", Verdict.Unlikely)]
    [InlineData("a blue square and a yellow triangle", "yellow triangle", Verdict.Certain)]
    [InlineData("a blue square and a yellow triangle", "blue triangle", Verdict.May)]   // shares with both objects
    [InlineData("a blue square and a yellow triangle", "green circle", Verdict.Unlikely)]
    [InlineData("three green triangles", "green triangle", Verdict.Certain)]
    [InlineData("three green triangles", "Green  Triangles", Verdict.Certain)]          // case, spacing, plural
    [InlineData("a purple circle above a red square", "red square", Verdict.Certain)]
    [InlineData("a purple circle above a red square", "purple square", Verdict.May)]
    [InlineData("a purple circle above a red square", "circle", Verdict.May)]           // names only a shape
    [InlineData("a purple circle above a red square", "background", Verdict.Unlikely)]
    [InlineData("a purple circle above a red square", "yellow triangle", Verdict.Unlikely)]
    public void Judges_labels_against_the_parsed_prompt(string prompt, string label, Verdict expected) =>
        Assert.Equal(expected, _judge.Judge(prompt, [label])[0]);

    [Fact]
    public void Returns_one_verdict_per_label_in_order_and_repeats_exactly()
    {
        string[] labels = ["blue square", "red circle", "red triangle", "green square"];
        var first = _judge.Judge("a red circle to the left of a blue square", labels);
        Assert.Equal([Verdict.Certain, Verdict.Certain, Verdict.May, Verdict.May], first);
        Assert.Equal(first, _judge.Judge("a red circle to the left of a blue square", labels));
    }

    [Theory]
    [InlineData("a dog on a couch")]
    [InlineData("a red circles")]
    [InlineData("")]
    public void Unparseable_prompts_are_input_errors_naming_the_prompt(string prompt)
    {
        var e = Assert.Throws<InputException>(() => _judge.Judge(prompt, ["red circle"]));
        Assert.Equal("prompt", e.Field);
    }

    [Fact]
    public void Drives_the_segment_reward_to_eq5_values()
    {
        var segmenter = new FixedSegmenter([["red circle", "red square", "blue triangle"]]);
        var score = new SegmentReward(segmenter, _judge).Score("a red circle", [new RgbImage(1, 1, new byte[3])])[0];
        Assert.Equal((0.5 + 0 - 0.5) / 3, score.Score, 12);
    }

    [Fact]
    public void Prompt_labels_give_the_objects_and_counts_or_null()
    {
        var labels = new ShapesPromptLabels();
        var expected = labels.Expected("two red circles");
        Assert.NotNull(expected);
        Assert.Equal([new ExpectedObject("red circle", 2)], expected!);
        Assert.Null(labels.Expected("a cat"));
    }

    sealed class FixedSegmenter(string[][] labels) : ISegmenter
    {
        public string Name => "fixed";
        public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
            labels.Select(l => (IReadOnlyList<Segment>)l.Select(x => new Segment(x, 1, new Box(0, 0, 1, 1), RunLengthMask.FromBits(1, 1, [true]))).ToList()).ToList();
    }
}
