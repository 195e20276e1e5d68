using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Diffusion.Tokenizer;

namespace FineRewards.Diffusion.Tests.Tokenizer;

public sealed class ClipTokenizerFixture
{
    public ClipTokenizer Tokenizer { get; } =
        ClipTokenizer.FromFiles(Fixture.Path("clip", "vocab.json"), Fixture.Path("clip", "merges.txt"));
}

public class ClipTokenizerTests(ClipTokenizerFixture fixture) : IClassFixture<ClipTokenizerFixture>
{
    readonly ClipTokenizer _tok = fixture.Tokenizer;

    public sealed record Case(string text, int[] ids, int[] ids_77);

    static List<Case> Cases(string file) =>
        JsonSerializer.Deserialize<List<Case>>(File.ReadAllText(Fixture.Path("clip", file)))!;

    [Fact]
    public void All_214_cases_give_the_reference_raw_ids()
    {
        var cases = Cases("tokenizer_cases.json");
        Assert.Equal(214, cases.Count);
        var failures = cases
            .Select(c => (c, got: _tok.Encode(c.text).ToArray()))
            .Where(x => !x.got.SequenceEqual(x.c.ids))
            .Select(x => $"{JsonSerializer.Serialize(x.c.text)}: expected [{string.Join(",", x.c.ids)}] got [{string.Join(",", x.got)}]")
            .ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void All_214_cases_give_the_openai_77_token_form_padded_with_0()
    {
        var failures = Cases("tokenizer_cases.json")
            .Where(c => !_tok.EncodeForModel(c.text, 77, padId: 0).SequenceEqual(c.ids_77))
            .Select(c => c.text).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches: " + string.Join(" | ", failures.Take(20)));
    }

    [Fact]
    public void All_214_cases_give_the_SD1_form_padded_with_eos()
    {
        Assert.Equal(49407, _tok.PadId);   // default pad token <|endoftext|>, as openai/clip-vit-large-patch14
        foreach (var c in Cases("tokenizer_cases.json"))
        {
            // README: everything after the first EOT at min(len(ids),75)+1 becomes 49407.
            var expected = c.ids_77.ToArray();
            for (int i = Math.Min(c.ids.Length, 75) + 1; i < 77; i++) expected[i] = 49407;
            Assert.Equal(expected, _tok.EncodeForModel(c.text));
        }
    }

    [Fact]
    public void Text_cleaning_cases_match_except_mojibake_repair()
    {
        // ftfy's encoding repair ("cafÃ©" -> "café") is the one part of the cleanup not reproduced.
        var cases = Cases("tokenizer_cases_text_cleaning.json");
        Assert.Equal(12, cases.Count);
        var failures = cases
            .Where(c => c.text != "caf\u00c3\u00a9")
            .Where(c => !_tok.Encode(c.text).SequenceEqual(c.ids) || !_tok.EncodeForModel(c.text, 77, 0).SequenceEqual(c.ids_77))
            .Select(c => JsonSerializer.Serialize(c.text)).ToList();
        Assert.Equal(11, cases.Count(c => c.text != "caf\u00c3\u00a9"));
        Assert.True(failures.Count == 0, "mismatches: " + string.Join(" | ", failures));
    }

    [Fact]
    public void Decode_inverts_encode_up_to_cleaning()
    {
        // openai's decode: pieces joined, each </w> a space (so punctuation gets its own space).
        Assert.Equal("a photo of an astronaut riding a horse , 4 k ! ", _tok.Decode(_tok.Encode("A photo of an astronaut  riding a horse, 4k!")));
        Assert.Equal("größe 猫 ", _tok.Decode(_tok.Encode("Größe 猫")));   // multi-byte UTF-8 through the byte alphabet
    }

    [Fact]
    public void Lowercasing_follows_python_final_sigma_and_dotted_capital_i()
    {
        Assert.Equal("οδος", PythonText.Lower("ΟΔΟΣ"));
        Assert.Equal("σα", PythonText.Lower("ΣΑ"));           // not word-final: medial sigma
        Assert.Equal("σ", PythonText.Lower("Σ"));             // no cased letter before: medial form
        Assert.Equal("i\u0307stanbul", PythonText.Lower("İstanbul"));
    }

    [Fact]
    public void Whitespace_is_collapsed_like_python_re_s()
    {
        Assert.Equal("a b c", PythonText.CollapseWhitespace("\u001F a\t\u00A0\n b  c \u3000"));
        Assert.Equal("a\u200Bb", PythonText.CollapseWhitespace("a\u200Bb"));   // ZWSP is not whitespace
    }

    [Fact]
    public void Special_token_literals_map_to_their_ids_even_upper_case()
    {
        Assert.Equal(new[] { 49406, 49407 }, _tok.Encode("<|startoftext|><|ENDOFTEXT|>").ToArray());
    }

    [Fact]
    public void Long_prompts_are_truncated_to_75_tokens_between_bos_and_eos()
    {
        var ids = _tok.EncodeForModel(string.Concat(Enumerable.Repeat("word ", 100)));
        Assert.Equal(77, ids.Length);
        Assert.Equal(49406, ids[0]);
        Assert.Equal(49407, ids[76]);
        Assert.All(ids[1..76], id => Assert.Equal(_tok.Encode("word")[0], id));
    }

    [Fact]
    public void EncodeBatch_builds_an_int64_tensor_of_rows()
    {
        using var t = _tok.EncodeBatch(["a photo of a cat", "a dog"]);
        Assert.Equal(new long[] { 2, 77 }, t.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, t.dtype);
        Assert.Equal(_tok.EncodeForModel("a dog").Select(i => (long)i), t[1].data<long>().ToArray());
    }

    [Fact]
    public void A_tokenizer_folder_takes_its_pad_token_from_tokenizer_config()
    {
        var dir = Directory.CreateTempSubdirectory("clip-tok-").FullName;
        try
        {
            File.Copy(Fixture.Path("clip", "vocab.json"), System.IO.Path.Combine(dir, "vocab.json"));
            File.Copy(Fixture.Path("clip", "merges.txt"), System.IO.Path.Combine(dir, "merges.txt"));
            // SD 2.x style: AddedToken object, pad "!" (id 0).
            File.WriteAllText(System.IO.Path.Combine(dir, "tokenizer_config.json"),
                """{"pad_token": {"__type": "AddedToken", "content": "!"}, "model_max_length": 77}""");
            var sd2 = ClipTokenizer.FromPretrained(dir);
            Assert.Equal(0, sd2.PadId);
            Assert.Equal(0, sd2.EncodeForModel("a cat")[^1]);

            File.WriteAllText(System.IO.Path.Combine(dir, "tokenizer_config.json"), """{"pad_token": "<|unknown|>"}""");
            var e = Assert.Throws<InputException>(() => ClipTokenizer.FromPretrained(dir));
            Assert.Equal("pad_token", e.Field);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
