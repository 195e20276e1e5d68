using FineRewards.Cluster.Serving;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Server;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using FineRewards.Server.Tests;
using FineRewards.Server.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// What the gRPC services of a `serve --cluster` on silo <c>i</c> call: the cluster's serving adapters over that
/// silo's own grain factory, its own pack catalog (pack <see cref="Pack"/>, checked on submit as on one host) and
/// the shared folder's images.
/// </summary>
public sealed class SiloServices
{
    public const string Pack = "p";

    public required ClusterGenerationJobs Jobs { get; init; }
    public required ClusterTrainingJobs Training { get; init; }
    public required ClusterFeedback Feedback { get; init; }
    public required ImageStore Images { get; init; }

    /// <summary>A catalog serving <paramref name="packs"/> (by default a solid-colour pack named <see cref="Pack"/> with one reward and a trainer), loading.</summary>
    public static ModelCatalog Catalog(params IModelPack[] packs)
    {
        var catalog = new ModelCatalog(new HostModels(packs.Length > 0 ? packs : [new TestPack(Pack, new SolidColourGenerator(), [new BrightnessReward()], new RecordingTrainer())],
            [], DeviceInfo.Cpu(), Pack), NullLogger<ModelCatalog>.Instance);
        catalog.StartLoading(CancellationToken.None);
        return catalog;
    }

    public static async Task<SiloServices> OpenAsync(TestCluster cluster, int silo, params IModelPack[] packs)
    {
        var host = cluster.HostOn(silo);
        var catalog = Catalog(packs);
        await catalog.LoadingDone;
        var options = new HostOptions(cluster.SharedFolder, LogToConsole: false);
        var images = new ImageStore(Path.Combine(cluster.SharedFolder, "images"));
        return new SiloServices
        {
            Jobs = new ClusterGenerationJobs(host, cluster.Store, catalog, options),
            Training = new ClusterTrainingJobs(host, cluster.Store, catalog, options, NullLogger<ClusterTrainingJobs>.Instance),
            Feedback = new ClusterFeedback(host, cluster.Store, images, options, NullLogger<ClusterFeedback>.Instance),
            Images = images,
        };
    }

    /// <summary>A training of the profile's feedback alone (3 steps), as StartTrainingRound sends it.</summary>
    public static TrainingSubmission TrainingOf(string id, string profile, long seed = 5) =>
        new(id, "tests", profile, Pack, 0, 0, [], null, "", 3, 0, 0, 0, false, [], 0, seed);

    public static GenerationSubmission Generation(string id, params LoraReference[] loras) =>
        new(id, "tests", "a red square", "", 2, SeedPolicy.Fixed, 11, "", 3, 0, 0, 0, Pack, loras, [], null, "", new Dictionary<string, double>(), PreviewPolicy.None);

    public static FeedbackSubmission Accepted(string profile, string imageId, string jobId = "", int candidate = 0) =>
        new(Guid.NewGuid().ToString(), "u1", profile, FeedbackKind.Accepted, "a red square", imageId, jobId, candidate);

    /// <summary>Stores a small PNG of one shade in the shared folder; returns its image id.</summary>
    public string PutImage(byte shade) => Images.Put(FineRewards.Contracts.IO.PngCodec.Encode(new RgbImage(8, 8, Enumerable.Repeat(shade, 8 * 8 * 3).ToArray()))).Id;
}
