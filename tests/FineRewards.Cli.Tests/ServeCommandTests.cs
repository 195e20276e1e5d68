using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace FineRewards.Cli.Tests;

public class ServeCommandTests
{
    [Fact]
    public void Serve_on_a_busy_port_says_so_in_one_line_and_exits_2()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string data = Directory.CreateTempSubdirectory("finerewards-serve-busy-").FullName;
        try
        {
            var result = CliRunner.Run("serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", data);
            Assert.Equal(2, result.ExitCode);
            // One line that says what to do, not the bind exception's stack trace.
            Assert.Equal($"error: --port: port {port} is in use on 127.0.0.1; use --port to choose another (or stop what listens there)", result.Stderr.Trim());
        }
        finally { Directory.Delete(data, recursive: true); }
    }

    [Fact]
    public async Task Serve_keeps_a_relative_data_folder_under_the_working_directory()
    {
        // ASP.NET resolved a relative content root against the executable's folder: the host died at start.
        string work = Directory.CreateTempSubdirectory("finerewards-serve-relative-").FullName;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "finerewards.dll"), "serve", "--port", "0", "--data", Path.Combine("state", "host") })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var listening = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                    if (line.StartsWith("listening on", StringComparison.Ordinal)) return true;
                return false;
            });
            if (!await listening.WaitAsync(TimeSpan.FromMinutes(2)))
                Assert.Fail($"serve exited with {process.ExitCode} before listening: {await stderr}");
            Assert.True(File.Exists(Path.Combine(work, "state", "host", "host.db")), "no host.db under the working directory's state/host");
            Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "state")));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public void Serve_refuses_a_dashboard_without_a_cluster_and_a_cluster_file_that_is_not_there()
    {
        var dashboard = CliRunner.Run("serve", "--dashboard", "--port", "0");
        Assert.Equal(2, dashboard.ExitCode);
        Assert.Equal("error: --dashboard: shows a cluster; use it with --cluster CONFIG", dashboard.Stderr.Trim());

        string missing = Path.Combine(Path.GetTempPath(), $"no-cluster-{Guid.NewGuid():N}.json");
        var cluster = CliRunner.Run("serve", "--cluster", missing, "--port", "0");
        Assert.Equal(2, cluster.ExitCode);
        Assert.Equal($"error: --cluster: no file {missing}; give the cluster config (JSON, docs/cluster.md)", cluster.Stderr.Trim());
    }
}
