using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;

namespace FineRewards.Core.Tests.Ranking;

public class RankingJsonTests
{
    const string Input = """
        {"candidates":[{"id":"c0","scores":{"caption":0.91,"sam":0.12}},{"id":"c1","scores":{"caption":0.5,"sam":0.12}},
                       {"id":"c2","scores":{"caption":0.5,"sam":0.3}},{"id":"c3","scores":{"caption":0.95,"sam":0.4}}]}
        """;

    [Fact]
    public void Single_prompt_output_has_the_documented_shape()
    {
        string output = RankingJson.Run(Input, CombineMethod.Arl, null);
        Assert.Equal(
            """{"method":"arl","order":["c3","c0","c2","c1"],"selected":"c3","ranks":{"c0":{"caption":2,"sam":3.5,"total":5.5},"c1":{"caption":3.5,"sam":3.5,"total":7},"c2":{"caption":3.5,"sam":2,"total":5.5},"c3":{"caption":1,"sam":1,"total":2}}}""",
            output);
    }

    [Fact]
    public void Several_prompts_give_one_result_each_in_order()
    {
        string input = """{"prompts":[{"prompt":"a red circle","candidates":[{"id":"a","scores":{"x":1}},{"id":"b","scores":{"x":2}}]},{"prompt":"two blue squares","candidates":[{"id":"a","scores":{"x":3}},{"id":"b","scores":{"x":1}}]}]}""";
        var output = JsonNode.Parse(RankingJson.Run(input, CombineMethod.Sum, null))!.AsObject();
        var prompts = output["prompts"]!.AsArray();
        Assert.Equal(2, prompts.Count);
        Assert.Equal("a red circle", (string)prompts[0]!["prompt"]!);
        Assert.Equal("b", (string)prompts[0]!["selected"]!);
        Assert.Equal("a", (string)prompts[1]!["selected"]!);
        Assert.Equal("sum", (string)prompts[1]!["method"]!);
    }

    [Fact]
    public void Errors_in_a_later_prompt_name_that_prompt()
    {
        string input = """{"prompts":[{"candidates":[{"id":"a","scores":{"x":1}}]},{"candidates":[{"id":"a","scores":{"x":1}},{"id":"b","scores":{"y":1}}]}]}""";
        var e = Assert.Throws<InputException>(() => RankingJson.Run(input, CombineMethod.Arl, null));
        Assert.StartsWith("prompts[1].candidates[", e.Field);
    }

    [Theory]
    [InlineData("""{"candidates":[{"id":"c0","scores":{"caption":null}}]}""", "candidates[0].scores.caption")]
    [InlineData("""{"candidates":[{"id":"c0","scores":{"caption":"NaN"}}]}""", "candidates[0].scores.caption")]
    [InlineData("""{"candidates":[{"scores":{"caption":1}}]}""", "candidates[0].id")]
    [InlineData("""{"candidates":[{"id":"c0"}]}""", "candidates[0].scores")]
    [InlineData("""{"candidates":{}}""", "candidates")]
    [InlineData("""{"items":[]}""", "input")]
    [InlineData("""[1,2]""", "input")]
    [InlineData("""{"candidates":[""", "input")]
    [InlineData("""{"prompts":[]}""", "prompts")]
    public void Bad_documents_name_the_field(string json, string field)
    {
        var e = Assert.Throws<InputException>(() => RankingJson.Run(json, CombineMethod.Arl, null));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void Weights_parse_from_name_equals_number()
    {
        var w = RankingJson.ParseWeights("caption=1, sam=0.5");
        Assert.Equal(1.0, w["caption"]);
        Assert.Equal(0.5, w["sam"]);
        Assert.Throws<InputException>(() => RankingJson.ParseWeights("caption"));
        Assert.Throws<InputException>(() => RankingJson.ParseWeights("caption=x"));
        Assert.Throws<InputException>(() => RankingJson.ParseWeights("a=1,a=2"));
    }
}
