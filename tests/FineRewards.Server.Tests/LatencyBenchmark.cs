using System.Diagnostics;
using FineRewards.Protocol.V1;
using FineRewards.Server.Storage;
using Xunit.Abstractions;

namespace FineRewards.Server.Tests;

/// <summary>
/// Loopback latency of the host: unary calls, and how long an event takes from the moment the job
/// appends it (its timestamp) to the moment a watching client has it. Prints the numbers
/// (dotnet test --filter Category=Bench --logger "console;verbosity=detailed"); the bounds are
/// loose, only there to catch a host that stalls (a missed wake-up, a heartbeat-paced stream).
/// </summary>
[Trait("Category", "Bench")]
public class LatencyBenchmark(ITestOutputHelper output)
{
    static string Summary(List<double> ms)
    {
        ms.Sort();
        double P(double q) => ms[Math.Min(ms.Count - 1, (int)(q * ms.Count))];
        return $"n={ms.Count} p50={P(0.5):0.000} ms p90={P(0.9):0.000} ms p99={P(0.99):0.000} ms max={ms[^1]:0.000} ms";
    }

    [Fact]
    public async Task Unary_and_event_latency_on_loopback()
    {
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { StepDelay = TimeSpan.FromMilliseconds(30) });

        var unary = new List<double>();
        var has = new List<double>();
        string id = ImageStore.IdOf([1]);
        for (int i = 0; i < 550; i++)
        {
            long t = Stopwatch.GetTimestamp();
            await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
            if (i >= 50) unary.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            t = Stopwatch.GetTimestamp();
            await host.Images.HasImagesAsync(new HasImagesRequest { ImageIds = { id } });
            if (i >= 50) has.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        var eventLatency = new List<double>();
        var submitToQueued = new List<double>();
        for (int j = 0; j <= 10; j++) // job 0 warms up (JIT) and is not counted
        {
            var request = TestHost.Request(k: 1, steps: 10);
            long t = Stopwatch.GetTimestamp();
            await host.Jobs.SubmitGenerationAsync(request);
            using var call = host.Jobs.WatchJob(new WatchJobRequest { JobId = request.JobId });
            bool first = true;
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                var now = DateTime.UtcNow;
                if (call.ResponseStream.Current.MessageCase != WatchJobResponse.MessageOneofCase.Event) continue;
                var e = call.ResponseStream.Current.Event;
                if (first) { if (j > 0) submitToQueued.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds); first = false; }
                // Live events only: the first ones were appended before the watch began.
                else if (j > 0) eventLatency.Add((now - e.Time.ToDateTime()).TotalMilliseconds);
                if (e.KindCase is JobEvent.KindOneofCase.Completed) break;
            }
        }

        output.WriteLine($"GetCapabilities round trip: {Summary(unary)}");
        output.WriteLine($"HasImages round trip:       {Summary(has)}");
        output.WriteLine($"submit + watch to first event: {Summary(submitToQueued)}");
        output.WriteLine($"event append -> client has it: {Summary(eventLatency)}");
        Assert.True(unary[unary.Count / 2] < 50, Summary(unary));
        Assert.True(eventLatency[eventLatency.Count / 2] < 50, Summary(eventLatency));
    }
}
