using System.Net;
using FineRewards.Contracts;
using System.Net.Sockets;
using FineRewards.Core;
using FineRewards.Protocol.V1;
using FineRewards.Server.Hosting;

namespace FineRewards.Server.Tests;

/// <summary>Starting the host and what it writes to its log.</summary>
public class HostingTests
{
    [Fact]
    public async Task A_busy_port_is_one_clear_error_naming_the_port_and_the_option()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string dir = TestHost.NewDataDirectory();
        try
        {
            var options = new HostOptions(dir, Port: port, LogToConsole: false);
            var e = await Assert.ThrowsAsync<InputException>(() => FineRewardsHost.StartAsync(options, TestHost.Models(new SolidColourGenerator())));
            Assert.Equal("--port", e.Field);
            Assert.Equal($"--port: port {port} is in use on 127.0.0.1; use --port to choose another (or stop what listens there)", e.Message);
        }
        finally { TestHost.TryDelete(dir); }
    }

    [Fact]
    public async Task Calls_stay_out_of_the_info_log_and_jobs_are_in_it()
    {
        string dir = TestHost.NewDataDirectory();
        try
        {
            string jobId;
            await using (var host = await TestHost.StartAsync(dataDirectory: dir))
            {
                for (int i = 0; i < 5; i++) await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
                var request = TestHost.Request();
                jobId = request.JobId;
                await host.Jobs.SubmitGenerationAsync(request);
                await host.WatchToEndAsync(jobId);
            }
            string log = File.ReadAllText(Path.Combine(dir, "logs", "host.log"));
            // ASP.NET Core's per-call lines ("Request starting HTTP/2 POST ...", "Executing endpoint ...") are Debug detail.
            Assert.DoesNotContain("Request starting", log);
            Assert.DoesNotContain("Executing endpoint", log);
            Assert.Contains($"job={jobId} JobManager: queued at position", log);
            Assert.Contains($"job={jobId} JobRunner: completed in", log);
        }
        finally { TestHost.TryDelete(dir); }
    }
}
