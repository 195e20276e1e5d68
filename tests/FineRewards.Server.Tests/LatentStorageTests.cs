using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using FineRewards.Server.Storage;
using FineRewards.Protocol.V1;
using FeedbackKind = FineRewards.Protocol.V1.FeedbackKind;

namespace FineRewards.Server.Tests;

/// <summary>Issue 18: the host keeps each generated candidate's latents, across restarts, and personalised training learns them.</summary>
public class LatentStorageTests
{
    /// <summary>The solid-colour generator whose candidates carry latents [1, 1, 1] holding the seed.</summary>
    sealed class LatentGenerator : IImageGenerator
    {
        readonly SolidColourGenerator inner = new();
        public string Name => inner.Name;
        public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default) =>
            inner.Generate(request, progress, cancellationToken).Select(c => c with { Latents = CandidateLatents.Create([c.Seed % 1000, 0.25f], 2, 1, 1) }).ToList();
    }

    sealed class LatentRecordingTrainer : ILoraTrainer
    {
        public List<TrainingPair> Pairs { get; } = [];
        public string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
        {
            Pairs.AddRange(pairs);
            progress?.Report(new TrainingProgress(1, 1, 0.5));
            File.WriteAllBytes(outputPath, [1, 2, 3]);
            return outputPath;
        }
    }

    // 64: drawn at the host's training size, so the LoRA learns the candidate's own latents; 16: the image is
    // resized for training and its latents (of the 16x16 drawing) no longer describe it, so it is encoded.
    [Theory]
    [InlineData(64, true)]
    [InlineData(16, false)]
    public async Task A_generated_candidates_latents_survive_a_restart_and_reach_the_trainer_of_an_accepted_image(int size, bool trainedOnLatents)
    {
        string dir = TestHost.NewDataDirectory();
        try
        {
            CandidateReady ready;
            string profile = "p-latents";
            await using (var first = await TestHost.StartAsync(new LatentGenerator(), dataDirectory: dir))
            {
                var job = TestHost.Request(k: 2, seed: 40);
                job.Width = job.Height = size;
                await first.Jobs.SubmitGenerationAsync(job);
                ready = (await first.WatchToEndAsync(job.JobId)).First(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).CandidateReady;
                await first.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
                {
                    FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = profile, Kind = FeedbackKind.Accepted,
                    Prompt = "a red square", ImageId = ready.ImageId, JobId = job.JobId, CandidateIndex = ready.CandidateIndex,
                });
            }

            var stored = new ImageStore(Path.Combine(dir, "images")).LatentsOf(ready.ImageId);
            Assert.NotNull(stored);
            Assert.Equal([ready.Seed % 1000, 0.25f], stored!.Data);

            var trainer = new LatentRecordingTrainer();
            await using var second = await TestHost.StartAsync(dataDirectory: dir, trainer: trainer);
            var start = new StartTrainingRoundRequest
            {
                TrainingId = Guid.NewGuid().ToString(), ClientId = "tests", ProfileId = profile, Options = new TrainingOptions { StepsPerRound = 1, Seed = 3 },
            };
            await second.Training.StartTrainingRoundAsync(start);
            var events = await TrainingTests.WatchAsync(second, start.TrainingId);
            Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);
            var pair = Assert.Single(trainer.Pairs);
            if (trainedOnLatents) Assert.Equal(stored.Data, pair.Latents!.Data);
            else Assert.Null(pair.Latents);
        }
        finally
        {
            TestHost.TryDelete(dir);
        }
    }

    [Fact]
    public void An_uploaded_image_has_no_latents()
    {
        string dir = TestHost.NewDataDirectory();
        try
        {
            var store = new ImageStore(dir);
            var (id, _) = store.Put(Contracts.IO.PngCodec.Encode(new RgbImage(8, 8, new byte[192])));
            Assert.Null(store.LatentsOf(id));
        }
        finally
        {
            TestHost.TryDelete(dir);
        }
    }
}
