using System.Text.RegularExpressions;
using Xunit.Abstractions;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Judge.Llm;
using FineRewards.Rewards.Tests.Gguf;

namespace FineRewards.Rewards.Tests.Judge;

/// <summary>One tiny random-weight GGUF for all judge tests, in a temporary folder.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("finerewards-judge-").FullName;
    public string ModelPath { get; }
    public LlmLabelJudge Judge { get; }

    public TinyModelFixture()
    {
        ModelPath = TinyLlamaGguf.Write(Path.Combine(Folder, "tiny-llama.gguf"));
        Judge = new LlmLabelJudge(new LlmJudgeOptions(ModelPath, ContextSize: 1024, Threads: 1));
    }

    public void Dispose()
    {
        Judge.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

public sealed class LlmLabelJudgeTests(TinyModelFixture fixture, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    static readonly Regex AnswerLine = new(@"^(\d+): (certain|may|unlikely)$");

    static void AssertGrammatical(string answer, int count)
    {
        var lines = answer.Split('\n');
        Assert.Equal(count + 1, lines.Length); // every line ends in \n
        Assert.Equal("", lines[^1]);
        for (int i = 0; i < count; i++)
        {
            var m = AnswerLine.Match(lines[i]);
            Assert.True(m.Success, $"line {i + 1} \"{lines[i]}\" is outside the grammar");
            Assert.Equal(i + 1, int.Parse(m.Groups[1].Value));
        }
    }

    [Theory]
    [InlineData("a red circle", new[] { "red circle" })]
    [InlineData("two blue squares", new[] { "blue square", "red circle", "tree" })]
    [InlineData("a dog on a beach at sunset", new[] { "dog", "beach", "sun", "umbrella", "car", "wave", "sand", "bird", "cloud", "person", "ball" })]
    public void The_grammar_gives_exactly_one_verdict_per_label_in_order(string prompt, string[] labels)
    {
        var verdicts = fixture.Judge.Judge($"{prompt} #{labels.Length}", labels);
        Assert.Equal(labels.Length, verdicts.Count);
        var answer = Assert.Single(fixture.Judge.LastAnswers);
        AssertGrammatical(answer, labels.Length);
        Assert.Equal(VerdictGrammar.Parse(answer, labels.Length), verdicts);
    }

    [Fact]
    public void Repeat_queries_are_served_by_the_cache_and_only_new_labels_are_asked()
    {
        var judge = fixture.Judge;
        string prompt = "a green triangle above a yellow star (cache test)";
        var first = judge.Judge(prompt, ["green triangle", "yellow star"]);
        var before = judge.Counters;

        var again = judge.Judge(prompt, ["yellow star", "green triangle"]);
        Assert.Equal(before.Queries, judge.Counters.Queries);
        Assert.Equal(before.GeneratedTokens, judge.Counters.GeneratedTokens);
        Assert.Equal(before.CacheHits + 2, judge.Counters.CacheHits);
        Assert.Empty(judge.LastAnswers);
        Assert.Equal([first[1], first[0]], again);

        Assert.Empty(judge.Judge(prompt, []));
        Assert.Equal(before.Queries, judge.Counters.Queries);

        var wider = judge.Judge(prompt, ["green triangle", "blue square", "yellow star"]);
        Assert.Equal(before.Queries + 1, judge.Counters.Queries);
        AssertGrammatical(Assert.Single(judge.LastAnswers), 1); // only "blue square" was asked
        Assert.Equal(first[0], wider[0]);
        Assert.Equal(first[1], wider[2]);
    }

    [Fact]
    public void Greedy_decoding_answers_the_same_question_the_same_way()
    {
        string[] labels = ["sun", "moon", "red circle", "tree", "house"];
        var cached = fixture.Judge.Judge("a house under the sun (determinism)", labels);
        using var fresh = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1));
        Assert.Equal(cached, fresh.Judge("a house under the sun (determinism)", labels));
        Assert.Equal(1, fresh.Counters.Queries);
        Assert.Equal(fixture.Judge.Version, fresh.Version);
    }

    [Fact]
    public void Queries_reuse_the_shared_instruction_prefix_without_changing_answers()
    {
        using var judge = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1));
        judge.Judge("a red circle (prefix 1)", ["red circle", "tree"]);
        Assert.Equal(0, judge.Counters.ReusedPromptTokens);
        long decodedFirst = judge.Counters.PromptTokens;

        string[] labels = ["blue square", "tree", "sun"];
        var second = judge.Judge("a blue square (prefix 2)", labels);
        var counters = judge.Counters;
        // The instructions (a few hundred characters, about a token each here) were not decoded again.
        Assert.True(counters.ReusedPromptTokens > 100, $"reused {counters.ReusedPromptTokens} tokens");
        Assert.True(counters.PromptTokens - decodedFirst < decodedFirst, "the second query should decode less than the first");

        using var fresh = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1));
        Assert.Equal(fresh.Judge("a blue square (prefix 2)", labels), second);
        Assert.Equal(0, fresh.Counters.ReusedPromptTokens);
    }

    [Fact]
    public void Long_label_lists_are_split_by_max_labels_and_by_context()
    {
        var labels = Enumerable.Range(0, 10).Select(i => $"object {i}").ToArray();
        using (var byCount = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1, MaxLabelsPerQuery: 4)))
        {
            Assert.Equal(10, byCount.Judge("many objects", labels).Count);
            Assert.Equal(3, byCount.Counters.Queries);
            Assert.Equal([4, 4, 2], byCount.LastAnswers.Select(a => a.Count(c => c == '\n')));
        }

        // The question alone is about 360 tokens (the tiny vocabulary spends about a token per character): 450 holds only a few labels.
        using var byContext = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 450, Threads: 1));
        var verdicts = byContext.Judge("x", labels);
        Assert.Equal(10, verdicts.Count);
        Assert.True(byContext.Counters.Queries > 1, "the label list should not fit one 450-token query");
        Assert.Equal(10, byContext.LastAnswers.Sum(a => a.Count(c => c == '\n')));

        var e = Assert.Throws<InputException>(() => byContext.Judge("x", [new string('z', 400)]));
        Assert.Equal("labels", e.Field);
        Assert.Contains("ContextSize 450", e.Message);
    }

    [Fact]
    public void Verdicts_persist_in_the_cache_file()
    {
        string cachePath = Path.Combine(fixture.Folder, "verdicts.json");
        string[] labels = ["red circle", "tree"];
        IReadOnlyList<Verdict> first;
        using (var judge = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1, CachePath: cachePath)))
        {
            first = judge.Judge("a red circle (file cache)", labels);
            Assert.Equal(1, judge.Counters.Queries);
        }
        Assert.Contains(fixture.Judge.ModelSha256, File.ReadAllText(cachePath));

        using var reopened = new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 1024, Threads: 1, CachePath: cachePath));
        Assert.Equal(first, reopened.Judge("a red circle (file cache)", labels));
        Assert.Equal(0, reopened.Counters.Queries);
        Assert.Equal(2, reopened.Counters.CacheHits);
    }

    [Fact]
    public void Missing_foreign_and_corrupt_files_give_clear_errors()
    {
        string missing = Path.Combine(fixture.Folder, "nope.gguf");
        var notFound = Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(missing)));
        Assert.Contains("nope.gguf", notFound.Message);
        Assert.Contains("not found", notFound.Message);

        string foreign = Path.Combine(fixture.Folder, "model.safetensors.gguf");
        File.WriteAllText(foreign, "{\"not\": \"gguf\"}");
        var notGguf = Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(foreign)));
        Assert.Contains("model.safetensors.gguf", notGguf.Message);
        Assert.Contains("not a GGUF model", notGguf.Message);

        // A download cut short: the header is fine, the tensor data is not all there.
        string truncated = Path.Combine(fixture.Folder, "truncated.gguf");
        var bytes = File.ReadAllBytes(fixture.ModelPath);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var corrupt = Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(truncated)));
        output.WriteLine(corrupt.Message);
        Assert.Contains("truncated.gguf", corrupt.Message);
        Assert.Contains("llama.cpp said:", corrupt.Message); // the native log explains what was wrong
    }

    [Fact]
    public void Segment_reward_asks_the_llm_judge_once_per_prompt_for_all_candidates()
    {
        var segmenter = new Rewards.FakeSegmenter(
            [Rewards.Images.Seg("red circle"), Rewards.Images.Seg("tree")],
            [Rewards.Images.Seg("Red Circle"), Rewards.Images.Seg("blue square")],
            []);
        var before = fixture.Judge.Counters;
        var reward = new FineRewards.Rewards.Segments.SegmentReward(segmenter, fixture.Judge);
        var scores = reward.Score("a red circle next to a tree (reward)", Rewards.Images.WithIds(0, 1, 2));

        Assert.Equal(before.Queries + 1, fixture.Judge.Counters.Queries);
        AssertGrammatical(Assert.Single(fixture.Judge.LastAnswers), 3);
        for (int i = 0; i < 2; i++)
        {
            var judged = scores[i].Evidence.Segments!;
            Assert.Equal(judged.Average(j => j.Verdict.Score()), scores[i].Score, 12);
        }
        Assert.Equal(-0.5, scores[2].Score);
        Assert.StartsWith("segment-v1+fake-segmenter+llm:tiny-llama:", reward.Version);
    }

    [Fact]
    public void A_model_with_a_chat_template_gets_the_question_inside_it()
    {
        // llama.cpp recognises ChatML by its markers; the tiny vocabulary spells them out in characters.
        const string chatMl = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n";
        string path = TinyLlamaGguf.Write(Path.Combine(fixture.Folder, "tiny-chat.gguf"), seed: 2, new TinyLlamaGguf.Shape(ChatTemplate: chatMl));
        using var judge = new LlmLabelJudge(new LlmJudgeOptions(path, ContextSize: 1024, Threads: 1));
        Assert.True(judge.UsesChatTemplate);
        string text = judge.PromptText("a red circle", ["red circle"]);
        Assert.StartsWith("<|im_start|>user\n", text);
        Assert.EndsWith("<|im_start|>assistant\n", text);
        Assert.Contains(LlmLabelJudge.Question("a red circle", ["red circle"]), text);
        Assert.Equal(2, judge.Judge("a red circle", ["red circle", "tree"]).Count);
        AssertGrammatical(Assert.Single(judge.LastAnswers), 2);
        Assert.NotEqual(fixture.Judge.Version, judge.Version);

        using var plain = new LlmLabelJudge(new LlmJudgeOptions(path, ContextSize: 1024, Threads: 1, UseChatTemplate: false));
        Assert.False(plain.UsesChatTemplate);
        Assert.EndsWith("Answer:\n", plain.PromptText("a red circle", ["red circle"]));
        Assert.NotEqual(judge.Version, plain.Version); // their cached verdicts must not mix
    }

    [Fact]
    public void Bad_options_are_refused()
    {
        Assert.Equal("ContextSize", Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, ContextSize: 8))).Field);
        if (!LLama.Native.NativeApi.llama_supports_gpu_offload()) // CPU builds only
            Assert.Equal("GpuLayers", Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, GpuLayers: 4))).Field);
        Assert.Equal("MaxLabelsPerQuery", Assert.Throws<InputException>(() => new LlmLabelJudge(new LlmJudgeOptions(fixture.ModelPath, MaxLabelsPerQuery: 0))).Field);
    }
}

public sealed class VerdictGrammarTests
{
    [Fact]
    public void Grammar_numbers_one_line_per_label()
    {
        Assert.Equal("root ::= \"1: \" verdict \"\\n\" \"2: \" verdict \"\\n\"\nverdict ::= \"certain\" | \"may\" | \"unlikely\"\n", VerdictGrammar.Gbnf(2));
        Assert.Equal("1: unlikely\n2: unlikely\n".Length, VerdictGrammar.MaxAnswerBytes(2));
    }

    [Fact]
    public void Parse_reads_the_format_and_rejects_anything_else()
    {
        Assert.Equal([Verdict.Certain, Verdict.May, Verdict.Unlikely], VerdictGrammar.Parse("1: certain\n2: may\n3: unlikely\n", 3));
        Assert.Throws<FormatException>(() => VerdictGrammar.Parse("1: certain\n", 2));
        Assert.Throws<FormatException>(() => VerdictGrammar.Parse("2: certain\n1: may\n", 2));
        Assert.Throws<InputException>(() => VerdictGrammar.Parse("1: perhaps\n", 1));
    }
}
