using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Tokenizer;
using FineRewards.Rewards.Onnx;

namespace FineRewards.Cli.Packs;

/// <summary>
/// A pack of real reward models as `pack create sd` writes it: components <c>clip</c> (kind onnx-clip), <c>sam</c>
/// (onnx-sam), <c>captioner</c> (onnx-captioner), <c>judge</c> (gguf-judge), optionally <c>aesthetic</c>
/// (aesthetic-head, a safetensors file), optionally <c>detector</c> (onnx-owlvit: OWL-ViT/OWLv2 boxes as SAM box prompts); paths relative to the pack folder or absolute. See docs/models.md.
/// </summary>
public sealed class OnnxPack(string folder, PackManifest manifest) : PackComponents(folder, manifest)
{
    public const string ClipKind = "onnx-clip";
    public const string SamKind = "onnx-sam";
    public const string CaptionerKind = "onnx-captioner";
    public const string JudgeKind = "gguf-judge";
    public const string AestheticKind = "aesthetic-head";
    public const string DetectorKind = "onnx-owlvit";

    public static new OnnxPack Load(string folder) => new(folder, PackManifest.Load(Path.Combine(folder, PackManifest.FileName)));

    /// <summary>Whether a manifest declares any ONNX reward model (else it is a Shapes-style pack).</summary>
    public static bool Declares(PackManifest manifest) =>
        manifest.Components?.Values.Any(c => c.Kind.StartsWith("onnx-", StringComparison.Ordinal)) == true;

    /// <summary>The files each declared model needs, as "component (kind): missing PATH", for doctor and pack checks.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        foreach (var (name, component) in Manifest.Components ?? new Dictionary<string, PackComponent>())
        {
            string path = Resolve(Folder, component.Path);
            IEnumerable<string> needed = component.Kind switch
            {
                ClipKind => [OnnxClipOptions.GraphPath(path, "vision_model"), OnnxClipOptions.GraphPath(path, "text_model"), Path.Combine(TokenizerFolder(path), "vocab.json"), Path.Combine(TokenizerFolder(path), "merges.txt")],
                SamKind => [OnnxClipOptions.GraphPath(path, "vision_encoder"), OnnxClipOptions.GraphPath(path, "prompt_decoder")],
                CaptionerKind => [OnnxClipOptions.GraphPath(path, "encoder_model"), .. OnnxCaptioner.DecoderFiles(path), Path.Combine(path, "vocab.txt")],
                DetectorKind => [OnnxClipOptions.GraphPath(path, "model"), Path.Combine(TokenizerFolder(path), "vocab.json"), Path.Combine(TokenizerFolder(path), "merges.txt")],
                JudgeKind or AestheticKind => [path],
                _ => [],
            };
            if (component.Kind.StartsWith("onnx-", StringComparison.Ordinal) && !Directory.Exists(path))
            {
                problems.Add($"{name} ({component.Kind}): missing folder {path}");
                continue;
            }
            foreach (var file in needed.Where(f => !File.Exists(f)))
                problems.Add($"{name} ({component.Kind}): missing {file}");
        }
        return problems;
    }

    /// <summary>Hugging Face CLIP exports keep vocab.json and merges.txt at the top or under tokenizer/.</summary>
    public static string TokenizerFolder(string clipFolder) =>
        File.Exists(Path.Combine(clipFolder, "vocab.json")) ? clipFolder : Path.Combine(clipFolder, "tokenizer");

    /// <summary>CLIP on the pack's clip component, with the project's CLIP tokenizer.</summary>
    public OnnxClip LoadClip(OnnxRuntimeOptions? runtime = null)
    {
        string folder = Require("clip", ClipKind, "the clip reward and segment labels");
        var tokenizer = ClipTokenizer.FromPretrained(TokenizerFolder(folder));
        return new OnnxClip(new OnnxClipOptions(folder, Runtime: runtime), (text, length) => tokenizer.EncodeForModel(text, length));
    }

    /// <summary>
    /// The pack's OWL-ViT/OWLv2 detector with the project's CLIP tokenizer (from the detector's folder), or null when the
    /// pack has none. Its config may set threshold, nms_thresh and query_template (<see cref="OnnxOwlDetectorOptions"/>).
    /// </summary>
    public OnnxOwlDetector? LoadDetector(OnnxRuntimeOptions? runtime = null)
    {
        if (ComponentPath("detector", DetectorKind) is not string folder) return null;
        var options = new OnnxOwlDetectorOptions(folder, Runtime: runtime);
        string field = $"{ManifestPath}: components.detector.config";
        if (Config("detector") is JsonElement config && config.ValueKind == JsonValueKind.Object)
        {
            try
            {
                foreach (var p in config.EnumerateObject())
                    options = p.Name switch
                    {
                        "threshold" => options with { Threshold = p.Value.GetDouble() },
                        "nms_thresh" => options with { NmsThresh = p.Value.GetDouble() },
                        "query_template" => options with { QueryTemplate = p.Value.GetString()! },
                        _ => throw new InputException($"{field}.{p.Name}", "unknown setting; expected threshold, nms_thresh or query_template"),
                    };
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new InputException(field, $"has a value of the wrong type ({e.Message})");
            }
        }
        options.Validate(field + ".");
        var tokenizer = ClipTokenizer.FromPretrained(TokenizerFolder(folder));
        return new OnnxOwlDetector(options, (text, length) => tokenizer.EncodeForModel(text, length));
    }

    public OnnxSam LoadSam(OnnxRuntimeOptions? runtime = null) =>
        new(new OnnxSamOptions(Require("sam", SamKind, "the sam reward"), runtime));

    /// <summary>
    /// Everything-mode settings and the tag list from the sam component's config (keys as SAM's generator names them:
    /// points_per_side, pred_iou_thresh, stability_score_thresh, stability_score_offset, box_nms_thresh,
    /// min_mask_region_area, max_segments; and tags, a file of one label per line, relative to the pack).
    /// </summary>
    public (SamEverythingOptions Everything, SegmentVocabulary Vocabulary) SamSettings()
    {
        var options = new SamEverythingOptions();
        var vocabulary = new SegmentVocabulary();
        if (Config("sam") is not JsonElement config || config.ValueKind != JsonValueKind.Object) return (options, vocabulary);
        string field = $"{ManifestPath}: components.sam.config";
        try
        {
            foreach (var p in config.EnumerateObject())
                options = p.Name switch
                {
                    "points_per_side" => options with { PointsPerSide = p.Value.GetInt32() },
                    "pred_iou_thresh" => options with { PredIouThresh = p.Value.GetDouble() },
                    "stability_score_thresh" => options with { StabilityScoreThresh = p.Value.GetDouble() },
                    "stability_score_offset" => options with { StabilityScoreOffset = p.Value.GetDouble() },
                    "box_nms_thresh" => options with { BoxNmsThresh = p.Value.GetDouble() },
                    "min_mask_region_area" => options with { MinMaskRegionArea = p.Value.GetInt32() },
                    "max_segments" => options with { MaxSegments = p.Value.GetInt32() },
                    "tags" => options,
                    _ => throw new InputException($"{field}.{p.Name}", "unknown setting; expected points_per_side, pred_iou_thresh, stability_score_thresh, stability_score_offset, box_nms_thresh, min_mask_region_area, max_segments or tags"),
                };
            if (config.TryGetProperty("tags", out var tags))
                vocabulary = SegmentVocabulary.FromFile(Path.GetFullPath(Path.Combine(Folder, tags.GetString()!)));
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InputException(field, $"has a value of the wrong type ({e.Message})");
        }
        try { options.Validate(); }
        catch (InputException e) { throw new InputException(field, e.Message); }
        return (options, vocabulary);
    }
}
