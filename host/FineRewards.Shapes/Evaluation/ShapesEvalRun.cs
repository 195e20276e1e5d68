using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>
/// Evaluates a folder of generated images against a prompts file, the layout `finerewards eval-shapes`
/// reads: prompt i (0-based, blank lines skipped) has candidates DIR/p{i:0000}_c{c}.png, c = 0..K-1.
/// </summary>
public static class ShapesEvalRun
{
    /// <summary>Reads a prompts file: one prompt per line, blank lines ignored, every line parsed strictly.</summary>
    public static IReadOnlyList<(string Text, PromptSpec Spec)> ReadPrompts(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "prompts file does not exist");
        var result = new List<(string, PromptSpec)>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0) continue;
            result.Add((line, PromptGrammar.Parse(line, $"{path} line {lineNumber}")));
        }
        if (result.Count == 0) throw new InputException(path, "no prompts; expected one prompt per line");
        return result;
    }

    /// <param name="k">Candidates per prompt; every one must exist. Null: use c = 0, 1, ... while files exist (at least one).</param>
    public static ShapesReport Run(string promptsFile, string imagesDir, int? k = null)
    {
        if (k is <= 0) throw new InputException("--k", $"must be at least 1, got {k}");
        if (!Directory.Exists(imagesDir)) throw new InputException(imagesDir, "images folder does not exist");
        var prompts = ReadPrompts(promptsFile);
        var results = new List<PromptResult>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var candidates = new List<CandidateResult>();
            for (int c = 0; k is null || c < k; c++)
            {
                string path = Path.Combine(imagesDir, CandidateFiles.ImageName(i, c));
                if (!File.Exists(path))
                {
                    if (k is null && c > 0) break;
                    throw new InputException(path, $"missing candidate {c} of prompt {i} (\"{prompts[i].Text}\")");
                }
                var image = PngCodec.Read(path);
                image = ImageResize.Resize(image, Scene.Canvas, Scene.Canvas);
                candidates.Add(new CandidateResult(c, Path.GetFileName(path), ShapesEvaluator.Evaluate(image, prompts[i].Spec, path)));
            }
            results.Add(new PromptResult(i, prompts[i].Text, prompts[i].Spec, candidates));
        }
        return new ShapesReport(results);
    }
}
