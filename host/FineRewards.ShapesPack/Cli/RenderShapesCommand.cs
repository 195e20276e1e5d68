using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Cli;

/// <summary>
/// `finerewards render-shapes`: spec renders of prompts, either one image (--prompt, --out FILE.png)
/// or a whole prompts file into the folder layout eval-shapes reads (--prompts, --out DIR, --k).
/// </summary>
public static class RenderShapesCommand
{
    public static Command Create(CommandServices services)
    {
        var prompt = new Option<string?>("--prompt") { Description = "One prompt, e.g. \"a red circle above a blue square\"." };
        var prompts = new Option<FileInfo?>("--prompts") { Description = "A prompts file (one per line); renders K images per prompt." };
        var output = new Option<string>("--out") { Description = "PNG file for --prompt, folder for --prompts.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the scene layout; candidate c of prompt i uses seed + 1000 * i + c.", DefaultValueFactory = _ => 0 };
        var k = new Option<int>("--k") { Description = "Images per prompt with --prompts.", DefaultValueFactory = _ => 1 };
        var command = new Command("render-shapes", "Render Shapes-world prompts exactly as the spec draws them (random layout from a seed).")
        {
            prompt, prompts, output, seed, k,
        };
        command.SetAction(parse => services.Guard(() =>
        {
            string? text = parse.GetValue(prompt);
            FileInfo? file = parse.GetValue(prompts);
            string outPath = parse.GetValue(output)!;
            int baseSeed = parse.GetValue(seed);
            if ((text is null) == (file is null)) throw new InputException("--prompt/--prompts", "give exactly one of --prompt or --prompts");
            if (text is not null)
            {
                var scene = SceneSampler.Sample(PromptGrammar.Parse(text, "--prompt"), baseSeed);
                PngCodec.Write(SceneRenderer.Render(scene), outPath);
                Console.Out.WriteLine($"{outPath}: {SceneCaption.Caption(scene)}");
                return CommandServices.Ok;
            }
            int count = parse.GetValue(k);
            if (count < 1) throw new InputException("--k", $"must be at least 1, got {count}");
            var list = ShapesEvalRun.ReadPrompts(file!.FullName);
            for (int i = 0; i < list.Count; i++)
                for (int c = 0; c < count; c++)
                {
                    var scene = SceneSampler.Sample(list[i].Spec, baseSeed + 1000 * i + c);
                    PngCodec.Write(SceneRenderer.Render(scene), Path.Combine(outPath, CandidateFiles.ImageName(i, c)));
                }
            Console.Out.WriteLine($"rendered {list.Count * count} images of {list.Count} prompts into {outPath}");
            return CommandServices.Ok;
        }));
        return command;
    }
}
