using System.Globalization;
using FineRewards.Contracts;

namespace FineRewards.Rewards.Segments;

/// <param name="NoSegmentsScore">
/// R for an image where the segmenter found nothing. The paper's mean over segments is undefined there (the
/// reference divides by zero by accident). Default -0.5, the score of an all-"unlikely" image: nothing
/// recognisable was drawn, so the image shows none of what the prompt asked for, and an empty image must never
/// outrank one with a single plausible object. Flagged "no-segments".
/// </param>
/// <param name="JudgeFailedScore">R for a candidate whose labels the judge could not answer (flag "judge-failed"); the worst value of eq. 5 so a failure never wins a ranking.</param>
/// <param name="SegmenterFailedScore">R for a candidate the segmenter failed on (flag "segmenter-failed"); the others keep their scores.</param>
/// <param name="CoverageWeight">
/// Weight of the optional coverage term (0, the paper's eq. 5, turns it off): R = R_sam - CoverageWeight * (1 - coverage),
/// coverage being the share of the prompt's expected objects that some segment shows. The expected objects come from an
/// <see cref="IPromptLabels"/> provider, else from the labels the judge called "certain" in any of the K candidates.
/// </param>
/// <param name="CountAware">With counts from the provider, an expected object with count c seen n times covers min(n, c) / max(n, c) instead of 1.</param>
/// <param name="RelationWeight">
/// Weight of the optional relation term (0 turns it off; needs an <see cref="IRelationJudge"/>): R = R_sam + RelationWeight * mean over
/// the prompt's relations of +0.5 (holds) / -0.5 (violated or missing), see <see cref="RelationCheck"/>. Eq. 5 cannot see where
/// objects are, so "a blue square above a red circle" scores as high as the prompt's "a red circle above a blue square".
/// A prompt without relations adds nothing.
/// </param>
/// <param name="RelationMargin">How far apart box centres must be for a relation to hold, as a fraction of the image side (1/16: the Shapes world's 4 px on 64).</param>
public sealed record SegmentRewardOptions(
    double NoSegmentsScore = -0.5,
    double JudgeFailedScore = -0.5,
    double CoverageWeight = 0,
    bool CountAware = false,
    double RelationWeight = 0,
    double RelationMargin = 1.0 / 16,
    double SegmenterFailedScore = -0.5);

/// <summary>
/// The segment reward (paper eq. 5): segment each image, ask the judge whether each segment's label belongs to the
/// prompt's scene, and average +0.5 (certain), 0 (may), -0.5 (unlikely) over the segments. All K images are
/// segmented in one batch and all their distinct labels are judged in one query per prompt.
/// </summary>
public sealed class SegmentReward(
    ISegmenter segmenter,
    ILabelJudge judge,
    SegmentRewardOptions? options = null,
    IPromptLabels? promptLabels = null,
    IRelationJudge? relationJudge = null) : IReward
{
    readonly SegmentRewardOptions _options = Checked(options ?? new SegmentRewardOptions(), relationJudge);

    public string Name => "segment";
    public string Version => $"segment-v1+{segmenter.Name}+{judge.Name}:{judge.Version}"
        + (_options.CoverageWeight > 0 ? $"+coverage{_options.CoverageWeight.ToString(CultureInfo.InvariantCulture)}{(_options.CountAware ? "c" : "")}" : "")
        + (_options.RelationWeight > 0 ? $"+relations{_options.RelationWeight.ToString(CultureInfo.InvariantCulture)}m{_options.RelationMargin.ToString(CultureInfo.InvariantCulture)}+{relationJudge!.Name}:{relationJudge.Version}" : "");

    static SegmentRewardOptions Checked(SegmentRewardOptions o, IRelationJudge? relationJudge)
    {
        if (o.RelationWeight > 0 && relationJudge is null) throw new ArgumentException("RelationWeight > 0 needs a relation judge", nameof(relationJudge));
        if (!(o.RelationMargin >= 0 && o.RelationMargin < 1)) throw new ArgumentException($"RelationMargin {o.RelationMargin}: expected a fraction in [0, 1)", nameof(o));
        return o;
    }

    /// <summary>The form in which labels are judged and compared: segmenters disagree on case and spacing.</summary>
    public static string NormalizeLabel(string label) => string.Join(' ', label.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        var (segments, failures) = SegmentAll(prompt, images, cancellationToken);

        var verdicts = JudgeAll(prompt, segments, cancellationToken);
        var expected = ExpectedObjects(prompt, segments, verdicts);
        var relations = PromptRelations(prompt, cancellationToken);

        var scores = new List<RewardScore>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            if (failures[i] is string error) { scores.Add(SegmenterFailed(error)); continue; }
            var score = ScoreOne(segments[i], verdicts[i], expected);
            scores.Add(relations is null || verdicts[i].Verdicts is null ? score : WithRelations(score, segments[i], relations));
        }
        return scores;
    }

    /// <summary>The prompt's relations once for all K candidates, or null when the term is off.</summary>
    RelationsOrError? PromptRelations(string prompt, CancellationToken cancellationToken)
    {
        if (_options.RelationWeight <= 0) return null;
        try
        {
            return new RelationsOrError(relationJudge!.Relations(prompt, cancellationToken), null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Every candidate loses the term alike, so the ranking stays eq. 5's; the flag says why.
            return new RelationsOrError([], $"{e.GetType().Name}: {e.Message}");
        }
    }

    sealed record RelationsOrError(IReadOnlyList<PromptRelation> Relations, string? Error);

    RewardScore WithRelations(RewardScore score, IReadOnlyList<Segment> segments, RelationsOrError relations)
    {
        var flags = (score.Evidence.Flags ?? []).ToList();
        var details = new Dictionary<string, string>(score.Evidence.Details ?? new Dictionary<string, string>())
        {
            ["relation_judge"] = $"{relationJudge!.Name}:{relationJudge.Version}",
        };
        if (relations.Error is not null)
        {
            flags.Add("relation-judge-failed");
            details["relation-judge-error"] = relations.Error;
            return score with { Evidence = score.Evidence with { Flags = flags, Details = details } };
        }
        var judged = relations.Relations.Select(r => RelationCheck.Judge(r, segments, _options.RelationMargin)).ToList();
        double term = judged.Count == 0 ? 0 : _options.RelationWeight * judged.Average(j => j.Verdict.Value());
        details["relation_term"] = term.ToString("R", CultureInfo.InvariantCulture);
        if (judged.Any(j => j.Verdict == RelationVerdict.Violated)) flags.Add("relation-violated");
        if (judged.Any(j => j.Verdict == RelationVerdict.Missing)) flags.Add("relation-missing");
        return new RewardScore(Name, score.Score + term, score.Evidence with { Flags = flags.Count > 0 ? flags : null, Details = details, Relations = judged });
    }

    IReadOnlyList<IReadOnlyList<Segment>> Run(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken)
    {
        var segments = segmenter is IPromptedSegmenter prompted ? prompted.Segment(prompt, images, cancellationToken) : segmenter.Segment(images, cancellationToken);
        if (segments.Count != images.Count)
            throw new InvalidOperationException($"segmenter {segmenter.Name} returned {segments.Count} segment lists for {images.Count} images");
        return segments;
    }

    /// <summary>All K in one batch; when that fails, one at a time so only the candidates the segmenter fails on are lost.</summary>
    (IReadOnlyList<IReadOnlyList<Segment>> Segments, string?[] Failures) SegmentAll(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken)
    {
        var failures = new string?[images.Count];
        try
        {
            return (Run(prompt, images, cancellationToken), failures);
        }
        catch (Exception e) when (e is not OperationCanceledException && images.Count > 1)
        {
            var segments = new List<IReadOnlyList<Segment>>(images.Count);
            for (int i = 0; i < images.Count; i++)
            {
                try { segments.Add(Run(prompt, [images[i]], cancellationToken)[0]); }
                catch (Exception inner) when (inner is not OperationCanceledException)
                {
                    segments.Add([]);
                    failures[i] = $"{inner.GetType().Name}: {inner.Message}";
                }
            }
            return (segments, failures);
        }
    }

    RewardScore SegmenterFailed(string error) => new(Name, _options.SegmenterFailedScore, new RewardEvidence(
        Flags: ["segmenter-failed"],
        Details: new Dictionary<string, string> { ["segmenter"] = segmenter.Name, ["segmenter-error"] = error }));

    /// <summary>What the judge said about one candidate's labels, or why it could not.</summary>
    sealed record CandidateVerdicts(IReadOnlyDictionary<string, Verdict>? Verdicts, string? Error, bool Fallback);

    List<CandidateVerdicts> JudgeAll(string prompt, IReadOnlyList<IReadOnlyList<Segment>> segments, CancellationToken cancellationToken)
    {
        var perCandidate = segments.Select(list => list.Select(s => NormalizeLabel(s.Label)).Distinct().ToList()).ToList();
        var all = perCandidate.SelectMany(l => l).Distinct().ToList();
        if (all.Count == 0) return perCandidate.Select(_ => new CandidateVerdicts(new Dictionary<string, Verdict>(), null, false)).ToList();

        try
        {
            var map = Ask(prompt, all, cancellationToken);
            return perCandidate.Select(_ => new CandidateVerdicts(map, null, false)).ToList();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One bad label or a flaky judge must not cost the other candidates their scores: ask again per
            // candidate so only the candidates whose own labels fail are lost.
            var result = new List<CandidateVerdicts>(perCandidate.Count);
            foreach (var labels in perCandidate)
            {
                if (labels.Count == 0) { result.Add(new CandidateVerdicts(new Dictionary<string, Verdict>(), null, true)); continue; }
                try { result.Add(new CandidateVerdicts(Ask(prompt, labels, cancellationToken), null, true)); }
                catch (Exception inner) when (inner is not OperationCanceledException)
                {
                    result.Add(new CandidateVerdicts(null, $"{inner.GetType().Name}: {inner.Message}", true));
                }
            }
            return result;
        }
    }

    Dictionary<string, Verdict> Ask(string prompt, List<string> labels, CancellationToken cancellationToken)
    {
        var answer = judge.Judge(prompt, labels, cancellationToken);
        if (answer.Count != labels.Count)
            throw new InvalidOperationException($"judge {judge.Name} gave {answer.Count} verdicts for {labels.Count} labels");
        var map = new Dictionary<string, Verdict>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++) map[labels[i]] = answer[i];
        return map;
    }

    /// <returns>The objects the coverage term checks, or null when the term is off or nothing is known.</returns>
    IReadOnlyList<ExpectedObject>? ExpectedObjects(string prompt, IReadOnlyList<IReadOnlyList<Segment>> segments, List<CandidateVerdicts> verdicts)
    {
        if (_options.CoverageWeight <= 0) return null;
        var provided = promptLabels?.Expected(prompt);
        if (provided is not null)
            return provided.GroupBy(e => NormalizeLabel(e.Label))
                .Select(g => new ExpectedObject(g.Key, g.Any(e => e.Count is null) ? null : g.Sum(e => e.Count)))
                .ToList();
        // Without a provider: what the judge is certain the scene contains, as seen in any candidate.
        var certain = verdicts.Where(v => v.Verdicts is not null)
            .SelectMany(v => v.Verdicts!).Where(kv => kv.Value == Verdict.Certain)
            .Select(kv => kv.Key).Distinct().Order(StringComparer.Ordinal)
            .Select(label => new ExpectedObject(label)).ToList();
        return certain.Count > 0 ? certain : null;
    }

    RewardScore ScoreOne(IReadOnlyList<Segment> segments, CandidateVerdicts verdicts, IReadOnlyList<ExpectedObject>? expected)
    {
        var flags = new List<string>();
        var details = new Dictionary<string, string>
        {
            ["segmenter"] = segmenter.Name,
            ["judge"] = $"{judge.Name}:{judge.Version}",
            ["segments"] = segments.Count.ToString(CultureInfo.InvariantCulture),
        };
        if (verdicts.Fallback) flags.Add("judge-fallback");

        if (verdicts.Verdicts is null)
        {
            flags.Add("judge-failed");
            details["judge-error"] = verdicts.Error!;
            details["labels"] = string.Join("; ", segments.Select(s => s.Label));
            return new RewardScore(Name, _options.JudgeFailedScore, new RewardEvidence(Flags: flags, Details: details));
        }

        var judged = segments.Select(s => new JudgedSegment(s, verdicts.Verdicts[NormalizeLabel(s.Label)])).ToList();
        double score;
        if (judged.Count == 0)
        {
            flags.Add("no-segments");
            score = _options.NoSegmentsScore;
        }
        else
        {
            // Eq. 5: every segment counts, so two certain circles weigh twice one.
            score = judged.Average(j => j.Verdict.Score());
        }
        details["r_sam"] = score.ToString("R", CultureInfo.InvariantCulture);

        if (expected is not null)
        {
            double coverage = Coverage(segments, expected, out var missing);
            score -= _options.CoverageWeight * (1 - coverage);
            details["coverage"] = coverage.ToString("R", CultureInfo.InvariantCulture);
            details["expected"] = string.Join("; ", expected.Select(e => e.Count is int c ? $"{c} {e.Label}" : e.Label));
            if (missing.Count > 0)
            {
                flags.Add("missing-objects");
                details["missing"] = string.Join("; ", missing);
            }
        }
        return new RewardScore(Name, score, new RewardEvidence(Segments: judged, Flags: flags.Count > 0 ? flags : null, Details: details));
    }

    double Coverage(IReadOnlyList<Segment> segments, IReadOnlyList<ExpectedObject> expected, out List<string> missing)
    {
        var seen = segments.GroupBy(s => NormalizeLabel(s.Label)).ToDictionary(g => g.Key, g => g.Count());
        missing = [];
        double sum = 0;
        foreach (var e in expected)
        {
            int n = seen.GetValueOrDefault(e.Label);
            if (n == 0) missing.Add(e.Label);
            sum += _options.CountAware && e.Count is int c && c > 0
                ? (double)Math.Min(n, c) / Math.Max(n, c)
                : n > 0 ? 1 : 0;
        }
        return sum / expected.Count;
    }
}
