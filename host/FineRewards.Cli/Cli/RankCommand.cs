using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Ranking;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards rank`: rank-combine the candidates of one or more prompts from a JSON file.</summary>
public static class RankCommand
{
    public static Command Create()
    {
        var method = new Option<string>("--method")
        {
            Description = "How rewards combine: arl (sum of ranks, the paper's), sum, normalized (z-scores) or single:NAME.",
            DefaultValueFactory = _ => "arl",
        };
        var weights = new Option<string?>("--weights") { Description = "Per-reward weights, e.g. caption=1,sam=0.5 (default 1 each)." };
        var input = new Option<FileInfo>("--input")
        {
            Description = "JSON file: {\"candidates\":[{\"id\":\"c0\",\"scores\":{\"caption\":0.9,\"sam\":0.1}},...]} or {\"prompts\":[{\"prompt\":\"...\",\"candidates\":[...]},...]}.",
            Required = true,
        };
        var command = new Command("rank", "Rank the candidates of each prompt under several rewards and print the order and the selected best as JSON.")
        {
            method, weights, input,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var combine = CombineMethod.Parse(parse.GetValue(method)!, "--method");
            string? weightText = parse.GetValue(weights);
            var weightMap = weightText is null ? null : RankingJson.ParseWeights(weightText);
            var file = parse.GetValue(input)!;
            if (!file.Exists) throw new InputException("--input", $"file {file.FullName} does not exist");
            Console.Out.WriteLine(RankingJson.Run(File.ReadAllText(file.FullName), combine, weightMap, file.FullName));
            return CliErrors.Ok;
        }));
        return command;
    }
}
