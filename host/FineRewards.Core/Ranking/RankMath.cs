namespace FineRewards.Core.Ranking;

/// <summary>Rank arithmetic shared by every combination method.</summary>
public static class RankMath
{
    /// <summary>
    /// Rank 1 is the highest score. Equal scores share the mean of the ranks they span,
    /// so [0.9, 0.5, 0.5, 0.1] ranks [1, 2.5, 2.5, 4]; the ranks always sum to K(K+1)/2.
    /// </summary>
    public static double[] RankDescending(IReadOnlyList<double> scores)
    {
        int k = scores.Count;
        int[] byScore = Enumerable.Range(0, k).OrderByDescending(i => scores[i]).ToArray();
        var ranks = new double[k];
        for (int start = 0; start < k;)
        {
            int end = start;
            while (end + 1 < k && scores[byScore[end + 1]] == scores[byScore[start]]) end++;
            double shared = (start + end) / 2.0 + 1.0; // mean of positions start+1 .. end+1
            for (int j = start; j <= end; j++) ranks[byScore[j]] = shared;
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>
    /// Per-prompt z-scores with the population standard deviation. A reward that is the same for
    /// every candidate carries no information about the order, so it maps to zeros (tested by
    /// exact equality, because the mean of equal doubles need not equal them).
    /// </summary>
    public static double[] ZScores(IReadOnlyList<double> scores)
    {
        int k = scores.Count;
        var z = new double[k];
        if (scores.All(s => s == scores[0])) return z;
        double mean = scores.Average();
        double variance = scores.Sum(s => (s - mean) * (s - mean)) / k;
        double std = Math.Sqrt(variance);
        for (int i = 0; i < k; i++) z[i] = (scores[i] - mean) / std;
        return z;
    }
}
