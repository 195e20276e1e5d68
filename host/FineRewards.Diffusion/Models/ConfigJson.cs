using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;
using FineRewards.Core;

namespace FineRewards.Diffusion.Models;

/// <summary>
/// Reads diffusers' config.json files. diffusers writes several fields either as one number
/// (shared by every block) or as a per-block list, so those fields are read into arrays.
/// </summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Parses a config; a malformed file is an <see cref="InputException"/> naming it.</summary>
    public static T Parse<T>(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options)
                ?? throw new InputException(source, "the config is empty (JSON null)");
        }
        catch (JsonException e)
        {
            throw new InputException(source, $"not a valid {typeof(T).Name} config.json: {e.Message}");
        }
    }

    public static T ParseFile<T>(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "config file does not exist");
        return Parse<T>(File.ReadAllText(path), path);
    }

    /// <summary>Per-block value: the block's own entry, or the one shared value.</summary>
    public static int PerBlock(int[] values, int block) => values.Length == 1 ? values[0] : values[block];
}

/// <summary>Reads a JSON number or array of numbers as int[] (a single number becomes a one-element array).</summary>
public sealed class IntOrListConverter : JsonConverter<int[]>
{
    public override int[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number) return [reader.GetInt32()];
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException($"expected a number or a list of numbers, found {reader.TokenType}");
        var values = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number) throw new JsonException($"expected a number in the list, found {reader.TokenType}");
            values.Add(reader.GetInt32());
        }
        return values.ToArray();
    }

    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options)
    {
        if (value.Length == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (int v in value) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
