using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Nodes;

namespace FineRewards.Core.Ranking;

/// <summary>One prompt's candidates as read from a ranking input file.</summary>
public sealed record RankingInput(string? Prompt, IReadOnlyList<CandidateScores> Candidates, string Field);

/// <summary>
/// The JSON format of `finerewards rank`, kept stable because outside tools call it:
/// input  {"candidates":[{"id":"c0","scores":{"caption":0.91,"sam":0.12}}, ...]}
///        or {"prompts":[{"prompt":"...","candidates":[...]}, ...]};
/// output {"method":"arl","order":[...],"selected":"c3","ranks":{"c0":{"caption":2.5,"sam":1,"total":3.5}, ...}}
///        or {"prompts":[{"prompt":"...", ...same shape...}]}.
/// </summary>
public static class RankingJson
{
    /// <summary>Parses an input document. Returns the prompts and whether it used the multi-prompt form.</summary>
    public static (IReadOnlyList<RankingInput> Prompts, bool Multi) ParseInput(string json, string file = "input")
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new InputException(file, $"not valid JSON ({e.Message})");
        }
        if (root is not JsonObject obj) throw new InputException(file, "expected a JSON object with \"candidates\" or \"prompts\"");

        if (obj["prompts"] is JsonNode promptsNode)
        {
            if (promptsNode is not JsonArray prompts) throw new InputException("prompts", "expected an array");
            var list = new List<RankingInput>();
            for (int p = 0; p < prompts.Count; p++)
            {
                string field = $"prompts[{p}]";
                if (prompts[p] is not JsonObject po) throw new InputException(field, "expected an object with \"candidates\"");
                string? prompt = po["prompt"] switch
                {
                    null => null,
                    JsonValue v when v.TryGetValue(out string? s) => s,
                    _ => throw new InputException($"{field}.prompt", "expected a string"),
                };
                list.Add(new RankingInput(prompt, ParseCandidates(po["candidates"], $"{field}.candidates"), $"{field}.candidates"));
            }
            if (list.Count == 0) throw new InputException("prompts", "empty; expected at least one prompt");
            return (list, true);
        }
        if (obj["candidates"] is null) throw new InputException(file, "expected a \"candidates\" or a \"prompts\" field");
        return (new[] { new RankingInput(null, ParseCandidates(obj["candidates"], "candidates"), "candidates") }, false);
    }

    static IReadOnlyList<CandidateScores> ParseCandidates(JsonNode? node, string field)
    {
        if (node is not JsonArray array) throw new InputException(field, "expected an array of candidates");
        var result = new List<CandidateScores>();
        for (int i = 0; i < array.Count; i++)
        {
            string cf = $"{field}[{i}]";
            if (array[i] is not JsonObject c) throw new InputException(cf, "expected an object with \"id\" and \"scores\"");
            if (c["id"] is not JsonValue idValue || !idValue.TryGetValue(out string? id))
                throw new InputException($"{cf}.id", "expected a string");
            if (c["scores"] is not JsonObject scoresObj) throw new InputException($"{cf}.scores", $"candidate \"{id}\": expected an object of reward name to number");
            var scores = new Dictionary<string, double>();
            foreach (var (reward, value) in scoresObj)
            {
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
                    throw new InputException($"{cf}.scores.{reward}", $"candidate \"{id}\": score for reward \"{reward}\" is {(value is null ? "null" : value.ToJsonString())}; expected a finite number");
                scores[reward] = v.GetValue<double>();
            }
            result.Add(new CandidateScores(id, scores));
        }
        return result;
    }

    /// <summary>Parses "caption=1,sam=0.5" into weights.</summary>
    public static IReadOnlyDictionary<string, double> ParseWeights(string text, string field = "--weights")
    {
        var weights = new Dictionary<string, double>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || !double.TryParse(part[(eq + 1)..], System.Globalization.NumberStyles.Float,
                    System.Globalization.CultureInfo.InvariantCulture, out double w))
                throw new InputException(field, $"\"{part}\" is not NAME=NUMBER (e.g. caption=1,sam=0.5)");
            string name = part[..eq].Trim();
            if (!weights.TryAdd(name, w)) throw new InputException(field, $"weight for \"{name}\" given twice");
        }
        return weights;
    }

    public static JsonObject ToJson(RankingResult result, string? prompt = null)
    {
        var obj = new JsonObject();
        if (prompt is not null) obj["prompt"] = prompt;
        obj["method"] = result.Method.ToString();
        obj["order"] = new JsonArray(result.Order.Select(id => (JsonNode)JsonValue.Create(id)!).ToArray());
        obj["selected"] = result.Selected;
        var ranks = new JsonObject();
        foreach (var c in result.Candidates)
        {
            var r = new JsonObject();
            foreach (string reward in result.Rewards) r[reward] = c.Ranks[reward];
            r["total"] = c.Total;
            ranks[c.Id] = r;
        }
        obj["ranks"] = ranks;
        return obj;
    }

    /// <summary>Ranks every prompt of an input document and renders the output document.</summary>
    public static string Run(string inputJson, CombineMethod method, IReadOnlyDictionary<string, double>? weights, string file = "input")
    {
        var (prompts, multi) = ParseInput(inputJson, file);
        var rendered = prompts.Select(p => ToJson(CandidateRanker.Rank(p.Candidates, method, weights, p.Field), p.Prompt)).ToArray();
        JsonNode output = multi ? new JsonObject { ["prompts"] = new JsonArray(rendered) } : rendered[0];
        return output.ToJsonString();
    }
}
