using System.Text.RegularExpressions;
using FineRewards.Contracts;
using FineRewards.Judge.Llm;
using Xunit.Abstractions;

namespace FineRewards.Rewards.Tests.Judge;

/// <summary>The relation question on the tiny random-weight GGUF: what it answers is noise, but the grammar must
/// make every answer parse and end, and the plumbing (once per prompt, versions, evidence) must hold.</summary>
public sealed class LlmRelationJudgeTests(TinyModelFixture fixture, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    static readonly Regex Line = new(@"^[a-z]{1,12}( [a-z]{1,12}){0,2} \| (left of|right of|above|below) \| [a-z]{1,12}( [a-z]{1,12}){0,2}$");

    static void AssertGrammatical(string answer)
    {
        var lines = answer.Split('\n');
        Assert.Equal("", lines[^1]);
        Assert.Equal(RelationGrammar.End, lines[^2]);
        Assert.InRange(lines.Length - 2, 0, RelationGrammar.MaxRelations);
        foreach (var line in lines[..^2]) Assert.Matches(Line, line);
    }

    [Theory]
    [InlineData("a red circle above a blue square")]
    [InlineData("a purple triangle to the left of a yellow circle")]
    [InlineData("three green triangles")]
    public void The_grammar_makes_every_answer_a_list_of_relations_ending_in_end(string prompt)
    {
        IRelationJudge judge = fixture.Judge;
        var relations = judge.Relations(prompt);
        string answer = fixture.Judge.LastRelationAnswer!;
        output.WriteLine($"{prompt} -> {answer.Replace("\n", "\\n")}");
        AssertGrammatical(answer);
        Assert.Equal(RelationGrammar.Parse(answer), relations);
    }

    [Fact]
    public void A_prompt_is_asked_once_and_a_fresh_judge_answers_the_same()
    {
        IRelationJudge judge = fixture.Judge;
        var first = judge.Relations("a blue square below a red circle");
        long queries = fixture.Judge.Counters.Queries;
        Assert.Equal(first, judge.Relations("a blue square below a red circle"));
        Assert.Equal(queries, fixture.Judge.Counters.Queries);
        Assert.Null(fixture.Judge.LastRelationAnswer);

        using var fresh = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1));
        Assert.Equal(first, ((IRelationJudge)fresh).Relations("a blue square below a red circle"));
        // The relation question has its own version, so neither question's answers stand in for the other's.
        Assert.NotEqual(fixture.Judge.Version, judge.Version);
        Assert.Contains(LlmLabelJudge.RelationTemplateVersion, judge.Version);
    }

    [Fact]
    public void Sam_relation_on_the_llm_judge_checks_what_it_extracted()
    {
        var segmenter = new Rewards.FakeSegmenter([Rewards.Images.Seg("red circle"), Rewards.Images.Seg("blue square")], []);
        var reward = new FineRewards.Rewards.Segments.SegmentReward(segmenter, fixture.Judge,
            new FineRewards.Rewards.Segments.SegmentRewardOptions(RelationWeight: 1), relationJudge: fixture.Judge);
        const string prompt = "a red circle to the right of a blue square";
        var scores = reward.Score(prompt, Rewards.Images.WithIds(0, 1));
        var relations = ((IRelationJudge)fixture.Judge).Relations(prompt);
        Assert.All(scores, s => Assert.Equal(relations.Count, s.Evidence.Relations!.Count));
        // Nothing was segmented in image 1, so every relation the model read is missing there.
        Assert.All(scores[1].Evidence.Relations!, r => Assert.Equal(RelationVerdict.Missing, r.Verdict));
        Assert.Contains("relations1", reward.Version);
    }
}

public sealed class RelationGrammarTests
{
    [Fact]
    public void Parse_reads_the_format_and_rejects_anything_else()
    {
        Assert.Equal([new PromptRelation("red circle", SpatialRelation.Above, "blue square"), new PromptRelation("tree", SpatialRelation.LeftOf, "house")],
            RelationGrammar.Parse("red circle | above | blue square\ntree | left of | house\nend\n"));
        Assert.Empty(RelationGrammar.Parse("end\n"));
        Assert.Throws<FormatException>(() => RelationGrammar.Parse("red circle | above | blue square\n"));
        Assert.Throws<FormatException>(() => RelationGrammar.Parse("red circle | near | blue square\nend\n"));
        Assert.Throws<FormatException>(() => RelationGrammar.Parse("red circle above blue square\nend\n"));
        Assert.True(RelationGrammar.IsComplete("a | above | b\nend\n"));
        Assert.False(RelationGrammar.IsComplete("a | above | b\n"));
        Assert.False(RelationGrammar.IsComplete("end"));
    }

    [Fact]
    public void Gbnf_bounds_lines_words_and_relations()
    {
        string g = RelationGrammar.Gbnf();
        Assert.Contains($"line{{0,{RelationGrammar.MaxRelations}}} \"end\\n\"", g);
        Assert.Contains("\"left of\" | \"right of\" | \"above\" | \"below\"", g);
        Assert.Equal(4 * (2 * 38 + 6 + 8 + 1) + 4, RelationGrammar.MaxAnswerBytes);
    }
}
