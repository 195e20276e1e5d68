using FineRewards.Contracts;

namespace FineRewards.Rewards.Tests.Rewards;

/// <summary>Small stand-ins for the model engines: images carry their id in the first pixel's red byte.</summary>
static class Images
{
    public static RgbImage WithId(byte id)
    {
        var pixels = new byte[2 * 2 * 3];
        pixels[0] = id;
        return new RgbImage(2, 2, pixels);
    }

    public static RgbImage[] WithIds(params byte[] ids) => ids.Select(WithId).ToArray();

    public static Segment Seg(string label) =>
        new(label, 0.9, new Box(0, 0, 1, 1), RunLengthMask.FromBits(2, 2, [true, false, false, false]));
}

sealed class FakeCaptioner(params string[] captionsById) : ICaptioner
{
    public int Calls { get; private set; }
    public string Name => "fake-captioner";

    public IReadOnlyList<string> Caption(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        Calls++;
        return images.Select(i => captionsById[i.Pixels[0]]).ToList();
    }
}

/// <summary>Embeds known texts as fixed (then normalised) vectors, so cosines are known in advance.</summary>
sealed class FakeEmbedder(Dictionary<string, float[]> vectors) : ITextEmbedder
{
    public int Calls { get; private set; }
    public string Name => "fake-embedder";
    public int Dimension => vectors.Values.First().Length;

    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        Calls++;
        return texts.Select(t =>
        {
            var v = vectors[t];
            float n = MathF.Sqrt(v.Sum(x => x * x));
            return v.Select(x => x / n).ToArray();
        }).ToList();
    }
}

sealed class FakeSegmenter(params Segment[][] segmentsById) : ISegmenter
{
    public int Calls { get; private set; }
    public string Name => "fake-segmenter";

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        Calls++;
        return images.Select(i => (IReadOnlyList<Segment>)segmentsById[i.Pixels[0]]).ToList();
    }
}

/// <summary>Answers from a table; throws for any label in <see cref="Poison"/>.</summary>
sealed class FakeJudge(Dictionary<string, Verdict> table) : ILabelJudge
{
    public List<IReadOnlyList<string>> Queries { get; } = [];
    public HashSet<string> Poison { get; } = [];
    public string Name => "fake-judge";
    public string Version => "1";

    public IReadOnlyList<Verdict> Judge(string prompt, IReadOnlyList<string> labels, CancellationToken cancellationToken = default)
    {
        Queries.Add(labels.ToList());
        foreach (var label in labels)
            if (Poison.Contains(label)) throw new InvalidOperationException($"cannot judge {label}");
        return labels.Select(l => table[l]).ToList();
    }
}
