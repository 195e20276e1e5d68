using System.CommandLine;
using FineRewards.Core;
using FineRewards.Cli.Packs;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards pack create sd`: a pack folder (pack.json only) naming a user's Stable Diffusion checkpoint and optional reward models and judge.</summary>
public static class PackCreateCommand
{
    public static Command Create()
    {
        var command = new Command("create", "Create a pack folder for a model you have.");
        command.Subcommands.Add(CreateSd());
        return command;
    }

    static Command CreateSd()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A Stable Diffusion 1.x/2.x single-file checkpoint (.safetensors) or a diffusers folder; referenced, not copied.", Required = true };
        var prediction = new Option<string?>("--prediction-type") { Description = "epsilon or v_prediction (single files only; SD 2.x 768-v models need v_prediction). Default epsilon." };
        var output = new Option<string>("--out") { Description = "The pack folder to create (pack.json is written there).", Required = true };
        var parts = SdPack.OptionalParts.Select(p => (p.Name, Option: new Option<string?>(p.Option)
        {
            Description = p.Name switch
            {
                "judge" => "A GGUF language model for the segment reward's judge.",
                "detector" => $"An OWL-ViT/OWLv2 detector folder ({p.Kind}); the sam reward then also prompts SAM with its boxes for the prompt's nouns.",
                _ => $"The {p.Name} reward model folder ({p.Kind}).",
            },
        })).ToList();
        var command = new Command("sd", "Write PACK/pack.json for a Stable Diffusion checkpoint (component \"diffusion\") and optional clip, sam, captioner, detector and judge models.")
        {
            checkpoint, prediction, output,
        };
        foreach (var (_, option) in parts) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var optional = parts.Where(p => parse.GetValue(p.Option) is not null).ToDictionary(p => p.Name, p => parse.GetValue(p.Option)!);
            string folder = parse.GetValue(output)!;
            var manifest = SdPack.Create(folder, parse.GetValue(checkpoint)!, parse.GetValue(prediction), optional);
            Console.Out.WriteLine($"pack \"{manifest.Name}\" written to {Path.Combine(folder, Core.Packs.PackManifest.FileName)}");
            foreach (var (name, c) in manifest.Components!) Console.Out.WriteLine($"  {name}\t{c.Kind}\t{c.Path}");
            return CliErrors.Ok;
        }));
        return command;
    }
}
