using System.Diagnostics;

namespace FineRewards.Cli.Tests;

/// <summary>
/// tests/summarize.sh, the totals of tests/run.sh, on made-up `dotnet test` logs of a made-up solution
/// with two test projects and a library.
/// </summary>
public sealed class TestCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("finerewards-summarize-").FullName;

    public TestCommandTests()
    {
        File.WriteAllText(Path.Combine(dir, "All.sln"), """
            Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "Lib", "src\Lib\Lib.csproj", "{1}"
            EndProject
            Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "A.Tests", "tests\A.Tests\A.Tests.csproj", "{2}"
            EndProject
            Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "B.Tests", "tests\B.Tests\B.Tests.csproj", "{3}"
            EndProject
            """.Replace("            ", ""));
        Project("src/Lib/Lib.csproj", test: false);
        Project("tests/A.Tests/A.Tests.csproj", test: true);
        Project("tests/B.Tests/B.Tests.csproj", test: true);
    }

    void Project(string path, bool test)
    {
        string full = Path.Combine(dir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, test ? "<Project><PropertyGroup><IsTestProject>true</IsTestProject></PropertyGroup></Project>" : "<Project />");
    }

    const string A = "Passed!  - Failed:     0, Passed:    10, Skipped:     1, Total:    11, Duration: 2 s - A.Tests.dll (net10.0)";
    const string B = "Failed!  - Failed:     2, Passed:     5, Skipped:     0, Total:     7, Duration: 1 s - B.Tests.dll (net10.0)";

    (int Code, string Stdout, string Stderr) Summarize(int status, params string[] log)
    {
        string logPath = Path.Combine(dir, "test.log");
        File.WriteAllLines(logPath, log);
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "summarize.sh"), logPath, status.ToString(), Path.Combine(dir, "All.sln") })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void Every_test_project_reported_gives_the_totals_and_the_run_status()
    {
        var ok = Summarize(0, "  A.Tests -> /x/A.Tests.dll", A, "Passed!  - Failed:     0, Passed:     5, Skipped:     0, Total:     5, Duration: 1 s - B.Tests.dll (net10.0)");
        Assert.Equal(0, ok.Code);
        Assert.Equal("15 passed, 0 failed, 1 skipped", ok.Stdout.TrimEnd().Split('\n')[^1]);

        var failing = Summarize(1, A, B);
        Assert.Equal(1, failing.Code);
        Assert.Equal("15 passed, 2 failed, 1 skipped", failing.Stdout.TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public void A_test_project_that_reported_nothing_fails_the_run_and_is_named()
    {
        // dotnet test exited 0 but B.Tests was never built or run: the totals must not look complete.
        var r = Summarize(0, A);
        Assert.Equal(1, r.Code);
        Assert.Equal("10 passed, 1 failed, 1 skipped", r.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.Contains("B.Tests reported no results", r.Stderr);
        Assert.DoesNotContain("A.Tests", r.Stderr);
        Assert.DoesNotContain("Lib", r.Stderr);

        // The same when another project's failures already made the run fail.
        var both = Summarize(1, B);
        Assert.Equal(1, both.Code);
        Assert.Equal("5 passed, 3 failed, 0 skipped", both.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.Contains("A.Tests reported no results", both.Stderr);
    }

    [Fact]
    public void Under_a_filter_a_project_without_matching_tests_still_counts_as_reported()
    {
        var r = Summarize(0, A, "No test matches the given testcase filter `X` in /w/tests/B.Tests/bin/Debug/net10.0/B.Tests.dll");
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Stderr);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
