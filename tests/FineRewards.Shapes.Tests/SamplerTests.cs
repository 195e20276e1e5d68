using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class SamplerTests
{
    [Fact]
    public void Same_seed_gives_the_same_scene_and_other_seeds_differ()
    {
        var prompt = PromptGrammar.Parse("three blue circles");
        Assert.Equal(SceneSampler.Sample(prompt, 42).Objects, SceneSampler.Sample(prompt, 42).Objects);
        Assert.NotEqual(SceneSampler.Sample(prompt, 42).Objects, SceneSampler.Sample(prompt, 43).Objects);
    }

    [Fact]
    public void Sampled_scenes_contain_exactly_the_prompt_and_keep_the_relation_margin()
    {
        var random = new Random(5);
        foreach (var prompt in PromptCatalog.All().Where((_, i) => i % 3 == 0))
        {
            var scene = SceneSampler.Sample(prompt, random);   // the constructor re-checks every scene rule
            var counts = scene.Objects.GroupBy(o => (o.Color, o.Shape)).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(prompt.Counts.OrderBy(kv => kv.Key), counts.OrderBy(kv => kv.Key));
            if (prompt.Relation is Relation r)
            {
                var a = scene.Objects.Single(o => (o.Color, o.Shape) == prompt.Groups[0].Key);
                var b = scene.Objects.Single(o => (o.Color, o.Shape) == prompt.Groups[1].Key);
                Assert.True(RelationRule.Holds(r, a.X, a.Y, b.X, b.Y), $"{prompt.Text}: {a} / {b}");
            }
        }
    }

    [Fact]
    public void Four_large_objects_still_fit()
    {
        var random = new Random(9);
        for (int i = 0; i < 50; i++) Assert.Equal(4, SceneSampler.RandomScene(4, random).Objects.Count);
    }
}
