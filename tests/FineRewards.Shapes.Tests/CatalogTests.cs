using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class CatalogTests
{
    [Fact]
    public void Catalogue_holds_every_prompt_of_each_task_once()
    {
        Assert.Equal(5 * 3, PromptCatalog.All(PromptTask.Single).Count);
        Assert.Equal(3 * 5 * 3, PromptCatalog.All(PromptTask.Counting).Count);
        Assert.Equal(15 * 14, PromptCatalog.All(PromptTask.TwoObjects).Count);
        Assert.Equal(15 * 14 * 4, PromptCatalog.All(PromptTask.Position).Count);
        var texts = PromptCatalog.All().Select(p => p.Text).ToList();
        Assert.Equal(texts.Count, texts.Distinct().Count());
        foreach (var task in PromptWords.Tasks) Assert.All(PromptCatalog.All(task), p => Assert.Equal(task, p.Task));
    }

    [Fact]
    public void Splits_are_disjoint_cover_everything_and_follow_80_10_10_per_task()
    {
        foreach (var task in PromptWords.Tasks)
        {
            var all = PromptCatalog.All(task);
            var train = PromptCatalog.Split(task, PromptSplit.Train);
            var validation = PromptCatalog.Split(task, PromptSplit.Validation);
            var test = PromptCatalog.Split(task, PromptSplit.Test);
            Assert.Empty(train.Intersect(validation));
            Assert.Empty(train.Intersect(test));
            Assert.Empty(validation.Intersect(test));
            Assert.Equal(all.ToHashSet(), train.Concat(validation).Concat(test).ToHashSet());
            Assert.InRange(test.Count, Math.Max(1, Math.Floor(all.Count * 0.1)), Math.Ceiling(all.Count * 0.1));
            Assert.InRange(validation.Count, Math.Max(1, Math.Floor(all.Count * 0.1)), Math.Ceiling(all.Count * 0.1));
        }
        Assert.All(PromptCatalog.Split(PromptSplit.Test), p => Assert.Equal(PromptSplit.Test, PromptCatalog.SplitOf(p)));
    }

    [Fact]
    public void Splits_are_deterministic_and_not_just_catalogue_order()
    {
        var first = PromptCatalog.Split(PromptTask.Position, PromptSplit.Test).Select(p => p.Text).ToList();
        var second = PromptCatalog.Split(PromptTask.Position, PromptSplit.Test).Select(p => p.Text).ToList();
        Assert.Equal(first, second);
        var head = PromptCatalog.All(PromptTask.Position).Take(first.Count).Select(p => p.Text);
        Assert.NotEqual(head, first);   // hashed, not the first 10% of the list
        // Every colour appears among the position test prompts: the hash spreads them.
        Assert.All(Palette.Colors, c => Assert.Contains(first, t => t.Contains(c.Word())));
    }

    [Fact]
    public void Prompts_file_round_trips()
    {
        string path = Path.Combine(Path.GetTempPath(), $"shapes-prompts-{Guid.NewGuid():N}.txt");
        try
        {
            var prompts = PromptCatalog.Split(PromptSplit.Validation);
            PromptCatalog.WritePromptsFile(path, prompts);
            Assert.Equal(prompts.Count, File.ReadAllLines(path).Length);
            Assert.Equal(prompts, ShapesEvalRun.ReadPrompts(path).Select(p => p.Spec));
        }
        finally { File.Delete(path); }
    }
}
