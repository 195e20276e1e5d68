using FineRewards.Diffusion.Tokenizer;
using FineRewards.Shapes.Grammar;
using FineRewards.ShapesPack.Diffusion;

namespace FineRewards.ShapesPack.Tests;

public class VocabularyTests
{
    static string TempFolder() => Directory.CreateTempSubdirectory("shapes-vocab-").FullName;

    [Fact]
    public void Every_grammar_word_is_one_token_and_prompts_round_trip()
    {
        string folder = TempFolder();
        ShapesDiffusionConfig.WriteTokenizerFiles(folder);
        var tokenizer = ClipTokenizer.FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"));
        foreach (var word in ShapesDiffusionConfig.GrammarWords().Keys)
        {
            var ids = tokenizer.Encode(word);
            Assert.True(ids.Count == 1, $"\"{word}\" is {ids.Count} tokens");
            Assert.Equal(word + "</w>", tokenizer.Vocabulary.Single(kv => kv.Value == ids[0]).Key);
        }
        foreach (var prompt in PromptCatalog.All())
        {
            var ids = tokenizer.Encode(prompt.Text);
            Assert.Equal(prompt.Text.Split(' ').Length, ids.Count);
            Assert.Equal(prompt.Text, tokenizer.Decode(ids).Trim());
            Assert.True(ids.Count + 2 <= ShapesDiffusionConfig.MaxTokens, $"\"{prompt.Text}\" does not fit {ShapesDiffusionConfig.MaxTokens} positions");
        }
        // Text outside the grammar still tokenizes (byte fallback) and decodes back.
        var odd = tokenizer.Encode("zebra 7");
        Assert.True(odd.Count > 2);
        Assert.Equal("zebra 7", tokenizer.Decode(odd).Trim());
    }

    [Fact]
    public void Files_are_reproducible_and_the_vocabulary_is_small()
    {
        string a = TempFolder(), b = TempFolder();
        ShapesDiffusionConfig.WriteTokenizerFiles(a);
        ShapesDiffusionConfig.WriteTokenizerFiles(b);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        var tokenizer = ClipTokenizer.FromFiles(Path.Combine(a, "vocab.json"), Path.Combine(a, "merges.txt"));
        Assert.InRange(tokenizer.Vocabulary.Count, 514, 1000);
        Assert.Equal(tokenizer.Vocabulary.Count - 2, tokenizer.BosId);
        Assert.Equal(tokenizer.Vocabulary.Count - 1, tokenizer.EosId);
    }

    [Fact]
    public void Builder_merges_the_most_frequent_pair_first()
    {
        var (vocab, merges) = ClipVocabularyBuilder.Train(new Dictionary<string, int> { ["aab"] = 5, ["ab"] = 1 });
        Assert.Equal(("a", "b</w>"), merges[0]);
        Assert.Contains("aab</w>", vocab.Keys);
        Assert.Equal(256 + 256 + merges.Count + 2, vocab.Count);
    }
}
