using System.Runtime.CompilerServices;
using FineRewards.Protocol.V1;
using FineRewards.Server.Tests;

namespace FineRewards.Plugin.Tests;

/// <summary>examples/python/finerewards_editor.py against an in-process host (skips like the host's Python test without grpc for Python).</summary>
public class PythonExampleTests
{
    static string Script([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "examples", "python", "finerewards_editor.py"));

    [PythonGrpcFact]
    public async Task The_python_editor_example_ranks_saves_the_best_and_sends_feedback()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward()]);
        string dir = Directory.CreateTempSubdirectory("finerewards-python-example-").FullName;
        try
        {
            string png = Path.Combine(dir, "best.png");
            var (code, stdout, stderr) = await Task.Run(() => PythonClient.Run(PythonClient.Python, Script(),
                $"127.0.0.1:{host.Host.Address.Port}", "a red circle above a blue square", "--k", "3", "--seed", "40", "--out", png));
            Assert.True(code == 0, $"example failed ({code}): {stderr}\n{stdout}");
            Assert.Contains("#1 candidate", stdout);
            var stored = Assert.Single((await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "default" })).Feedback);
            Assert.Equal(FeedbackKind.Accepted, stored.Kind);
            Assert.Equal(await host.GetImageAsync(stored.ImageId), await File.ReadAllBytesAsync(png));
        }
        finally { TestHost.TryDelete(dir); }
    }
}
