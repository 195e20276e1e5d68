using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class GrammarTests
{
    [Fact]
    public void Spec_examples_parse_to_their_structure()
    {
        Assert.Equal(PromptSpec.Single(ShapeColor.Red, ShapeKind.Circle), PromptGrammar.Parse("a red circle"));
        Assert.Equal(PromptSpec.TwoObjects(ShapeColor.Blue, ShapeKind.Square, ShapeColor.Yellow, ShapeKind.Triangle),
            PromptGrammar.Parse("a blue square and a yellow triangle"));
        Assert.Equal(PromptSpec.Counting(3, ShapeColor.Green, ShapeKind.Triangle), PromptGrammar.Parse("three green triangles"));
        Assert.Equal(PromptSpec.Position(ShapeColor.Purple, ShapeKind.Circle, Relation.Above, ShapeColor.Red, ShapeKind.Square),
            PromptGrammar.Parse("a purple circle above a red square"));
        var left = PromptGrammar.Parse("a red circle to the left of a blue square");
        Assert.Equal(PromptTask.Position, left.Task);
        Assert.Equal(Relation.LeftOf, left.Relation);
        Assert.Equal(Relation.RightOf, PromptGrammar.Parse("a red circle to the right of a blue square").Relation);
        Assert.Equal(Relation.Below, PromptGrammar.Parse("a red circle below a blue square").Relation);
        Assert.Equal(4, PromptGrammar.Parse("four yellow squares").Groups[0].Count);
        Assert.Equal(2, PromptGrammar.Parse("two purple circles").Groups[0].Count);
    }

    [Fact]
    public void Every_catalogue_prompt_round_trips_through_text()
    {
        foreach (var spec in PromptCatalog.All())
        {
            string text = PromptGrammar.Generate(spec);
            Assert.Equal(spec, PromptGrammar.Parse(text));
            Assert.Equal(text, text.ToLowerInvariant());
            Assert.False(text.EndsWith('.'));
        }
    }

    [Theory]
    [InlineData("a crimson circle", "crimson")]
    [InlineData("a red hexagon", "hexagon")]
    [InlineData("a red circles", "circles")]
    [InlineData("two red circle", "circle")]
    [InlineData("five red circles", "five")]
    [InlineData("one red circle", "one")]
    [InlineData("a red circle.", "circle.")]
    [InlineData("A red circle", "A")]
    [InlineData("a red circle near a blue square", "near")]
    [InlineData("a red circle to the top of a blue square", "top")]
    [InlineData("a red circle above a blue square please", "please")]
    [InlineData("a red", "ends early")]
    [InlineData("", "empty")]
    [InlineData("two red circles above a blue square", "one object before")]
    [InlineData("a red circle and a red circle", "twice")]
    [InlineData("a red circle above two blue squares", "two")]
    public void Text_outside_the_grammar_is_refused_naming_what_was_unexpected(string text, string named)
    {
        var e = Assert.Throws<InputException>(() => PromptGrammar.Parse(text));
        Assert.Equal("prompt", e.Field);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Composite_captions_parse_only_as_captions()
    {
        const string caption = "two red circles and a blue square";
        var e = Assert.Throws<InputException>(() => PromptGrammar.Parse(caption));
        Assert.Contains("2 groups", e.Message);
        var spec = PromptGrammar.ParseCaption(caption);
        Assert.Equal(PromptTask.Composite, spec.Task);
        Assert.Equal([new ObjectGroup(ShapeColor.Red, ShapeKind.Circle, 2), new ObjectGroup(ShapeColor.Blue, ShapeKind.Square, 1)], spec.Groups);
        Assert.Equal(caption, spec.Text);
        Assert.Equal(PromptTask.Composite, PromptGrammar.ParseCaption("a red circle and a blue square and a green triangle").Task);
        Assert.Equal(PromptTask.TwoObjects, PromptGrammar.ParseCaption("a red circle and a blue square").Task);
    }

    [Fact]
    public void Hand_built_specs_that_break_the_grammar_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PromptGrammar.Generate(new PromptSpec(PromptTask.Single, [new ObjectGroup(ShapeColor.Red, ShapeKind.Circle, 2)])));
        Assert.Throws<ArgumentException>(() => PromptGrammar.Generate(PromptSpec.TwoObjects(ShapeColor.Red, ShapeKind.Circle, ShapeColor.Red, ShapeKind.Circle)));
        Assert.Throws<ArgumentException>(() => PromptGrammar.Generate(new PromptSpec(PromptTask.Position, PromptSpec.TwoObjects(ShapeColor.Red, ShapeKind.Circle, ShapeColor.Blue, ShapeKind.Circle).Groups)));
    }

    [Fact]
    public void Relation_rule_uses_a_4_pixel_margin_on_centres()
    {
        Assert.True(RelationRule.Holds(Relation.LeftOf, 10, 0, 14, 50));
        Assert.False(RelationRule.Holds(Relation.LeftOf, 10, 0, 13.9, 0));
        Assert.True(RelationRule.Holds(Relation.LeftOf, 10, 0, 13.9, 0, RelationRule.Tolerance));
        Assert.False(RelationRule.Holds(Relation.LeftOf, 10, 0, 13.8, 0, RelationRule.Tolerance));
        Assert.True(RelationRule.Holds(Relation.RightOf, 14, 0, 10, 0));
        Assert.True(RelationRule.Holds(Relation.Above, 0, 10, 0, 14));   // y grows downwards
        Assert.False(RelationRule.Holds(Relation.Above, 0, 14, 0, 10));
        Assert.True(RelationRule.Holds(Relation.Below, 0, 14, 0, 10));
    }
}
