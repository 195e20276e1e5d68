using System.Globalization;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Examples.HeadlessEditor;
using FineRewards.Plugin;
using FineRewards.Plugin.Client;

// finerewards-headless-editor: an editor without a window that hosts the FineRewards plugin.
const string Usage = """
usage:
  finerewards-headless-editor --host http://127.0.0.1:50151 --script scripts/demo.json --out frames/
      [--size 1100x680] [--scale 1] [--token TOKEN] [--settings settings.json] [--document NAME]
  finerewards-headless-editor --bench [--frames 300] [--size 1280x900] [--scale 1] [--out bench-out/]

Replays the script's input events and waits against a running host and writes every frame as
frame_NNNN.png (and the document's layers as layer_N.png) under --out. --bench times frames of the
candidates panel with 16 candidates and overlays (no host needed) and writes each state's last frame
as PNG and the numbers as bench.txt under --out (default bench-out/). Below 560 px wide the plugin is
docked (one column).
""";

try
{
    var options = Options.Parse(args);
    if (options.ContainsKey("help")) { Console.WriteLine(Usage); return 0; }
    var (width, height) = Size(options.GetValueOrDefault("size") ?? (options.ContainsKey("bench") ? "1280x900" : "1100x680"));
    float scale = Float(options.GetValueOrDefault("scale") ?? "1", "--scale");
    if (options.ContainsKey("bench"))
        return Bench.Run(int.Parse(options.GetValueOrDefault("frames") ?? "300", CultureInfo.InvariantCulture), width, height, scale,
            options.GetValueOrDefault("out") ?? "bench-out", Console.Out);

    string host = options.GetValueOrDefault("host") ?? throw new InputException("--host", "required: the host's address, e.g. http://127.0.0.1:50151");
    string script = options.GetValueOrDefault("script") ?? throw new InputException("--script", "required: a JSON file of steps (see scripts/demo.json)");
    string outDir = options.GetValueOrDefault("out") ?? throw new InputException("--out", "required: the folder for frame PNGs");
    var steps = ScriptRunner.Load(script);
    var document = new HeadlessDocument(options.GetValueOrDefault("document") ?? "headless", 64, 64, options.GetValueOrDefault("settings"));
    using var client = new HostClient(host, clientId: "headless-editor", token: options.GetValueOrDefault("token") ?? Environment.GetEnvironmentVariable("FINEREWARDS_TOKEN"));
    using var plugin = new FineRewardsPlugin(client, document);
    var runner = new ScriptRunner(plugin, document, outDir, width, height, scale, Console.Out);
    await runner.RunAsync(steps);
    document.SaveLayers(outDir);
    foreach (var line in document.Log) Console.WriteLine($"editor: {line}");
    Console.WriteLine($"wrote {runner.Frames} frames and {document.Layers.Count} layers to {outDir}");
    return 0;
}
catch (InputException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (TimeoutException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static (float, float) Size(string text)
{
    var parts = text.Split('x');
    if (parts.Length != 2 || !float.TryParse(parts[0], CultureInfo.InvariantCulture, out float w) || !float.TryParse(parts[1], CultureInfo.InvariantCulture, out float h) || w < 200 || h < 200)
        throw new InputException("--size", $"\"{text}\" is not WIDTHxHEIGHT in logical pixels, each at least 200");
    return (w, h);
}

static float Float(string text, string field) =>
    float.TryParse(text, CultureInfo.InvariantCulture, out float v) && v is >= 0.5f and <= 4 ? v : throw new InputException(field, $"\"{text}\" is not a number from 0.5 to 4");

static class Options
{
    /// <summary>--name value pairs; --bench and --help are flags.</summary>
    public static Dictionary<string, string> Parse(string[] args)
    {
        var result = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--")) throw new InputException(args[i], "expected an option (--host, --script, --out, --size, --scale, --token, --settings, --document, --bench, --frames)");
            string name = args[i][2..];
            if (name is "bench" or "help") { result[name] = "true"; continue; }
            if (i + 1 >= args.Length) throw new InputException(args[i], "needs a value");
            result[name] = args[++i];
        }
        return result;
    }
}
