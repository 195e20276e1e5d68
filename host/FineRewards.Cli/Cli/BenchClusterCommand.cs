using System.CommandLine;
using FineRewards.Contracts;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Cli.Doctor;
using FineRewards.Cluster.Bench;
using FineRewards.Cluster.Workers;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards bench cluster`: jobs per minute against the number of worker silos, with devices that
/// take a fixed time per step (<see cref="FineRewards.Cluster.Workers.TimedDevice"/>), so the scheduler,
/// grain calls and store writes are what is measured; efficiency = throughput / (workers x throughput of one).
/// With --real the devices run the built-in Shapes pack through the host's JobRunner instead.
/// </summary>
public static class BenchClusterCommand
{
    public static Command Create(PackRegistry packs)
    {
        var workers = new Option<string?>("--workers") { Description = "Worker silo counts to measure, comma-separated; the first is the baseline (default 1,2,4,8; with --real 1,2)." };
        var steps = new Option<int>("--steps") { Description = "Steps per job.", DefaultValueFactory = _ => 20 };
        var stepMs = new Option<int>("--step-ms") { Description = "Milliseconds each step takes on a device.", DefaultValueFactory = _ => 50 };
        var jobs = new Option<int>("--jobs-per-worker") { Description = "Timed jobs per worker (after an untimed warm-up run of the first count, and one warm-up job per worker).", DefaultValueFactory = _ => 6 };
        var k = new Option<int>("--k") { Description = "Candidates per job.", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON (the last line stays the efficiency)." };
        var postgres = new Option<string?>("--postgres") { Description = "Keep the shared store in this PostgreSQL database (an Npgsql connection string), in a schema of its own dropped after each run; default: in memory." };
        var real = new Option<bool>("--real") { Description = "Devices run the built-in Shapes pack (each worker its own copy, on this machine's CPU or GPU) instead of a fixed time per step; --step-ms is not used." };
        var threads = ThreadsOption.Create();
        var command = new Command("cluster", "Jobs per minute of an in-process Orleans cluster against its number of worker silos, with devices taking a fixed time per step (or, with --real, running the Shapes pack); scheduler and store overhead per job; efficiency at the largest count.")
        {
            workers, steps, stepMs, jobs, k, json, postgres, real, threads,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            bool isReal = parse.GetValue(real);
            var counts = ParseCounts(parse.GetValue(workers) ?? (isReal ? "1,2" : "1,2,4,8"));
            ThreadsOption.Apply(parse, threads);
            int stepCount = parse.GetValue(steps), ms = parse.GetValue(stepMs), perWorker = parse.GetValue(jobs), candidates = parse.GetValue(k);
            if (stepCount < 1) throw new InputException("--steps", "must be at least 1");
            if (ms < 0) throw new InputException("--step-ms", "must be 0 or more");
            if (perWorker < 1) throw new InputException("--jobs-per-worker", "must be at least 1");
            if (candidates < 1) throw new InputException("--k", "must be at least 1");
            string? database = parse.GetValue(postgres);
            if (database is not null)
                try { FineRewards.Cluster.Storage.PostgresClusterStore.ConnectionString(database); }
                catch (ArgumentException e) { throw new InputException("--postgres", e.Message); }
            var opened = new List<IModelPack>();
            try
            {
                var bench = new ClusterBench(stepCount, TimeSpan.FromMilliseconds(ms), perWorker, candidates, line => Console.Error.WriteLine($"bench cluster: {line}"), database,
                    isReal ? ShapesWorkload(packs, opened) : null);
                // The first cluster of the process pays for loading and compiling Orleans' code paths (and, with --real, the pack): untimed.
                Console.Error.WriteLine($"bench cluster: warm-up run with {counts[0]} workers (not counted)");
                bench.RunAsync(counts[0]).GetAwaiter().GetResult();
                var runs = new List<ClusterBenchRun>();
                foreach (int n in counts) runs.Add(bench.RunAsync(n).GetAwaiter().GetResult());
                Print(runs, isReal ? null : stepCount * ms, stepCount, candidates, parse.GetValue(json));
                return 0;
            }
            finally
            {
                foreach (var pack in opened) pack.Dispose();
            }
        }));
        return command;
    }

    /// <summary>
    /// Each worker its own Shapes pack, model catalog and <see cref="JobRunner"/> (as a silo of `serve --cluster`
    /// has), images in the run's shared folder; the jobs ask for the pack's own rewards.
    /// </summary>
    static BenchWorkload ShapesWorkload(PackRegistry packs, List<IModelPack> opened)
    {
        var probe = packs.Resolve(Diagnostics.DefaultPack);
        opened.Add(probe);
        var status = probe.Check();
        if (!status.Ready) throw new InputException("--real", $"the {probe.Name} pack is not ready: {string.Join("; ", status.Problems)}");
        return new BenchWorkload(probe.Name, "two red circles", probe.RewardNames(), shared =>
        {
            var pack = packs.Resolve(Diagnostics.DefaultPack);
            lock (opened) opened.Add(pack);
            var catalog = new ModelCatalog(ServeCommand.Models([pack], ServeCommand.Device()), NullLogger<ModelCatalog>.Instance);
            catalog.StartLoading(CancellationToken.None);
            string data = Directory.CreateDirectory(Path.Combine(shared, "silo-data", Guid.NewGuid().ToString("N"))).FullName;
            return RunnerDevice.Create(catalog, data, shared, [pack.Name]);
        }, StepTime: null);
    }

    static IReadOnlyList<int> ParseCounts(string text)
    {
        var counts = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 64)
                throw new InputException("--workers", $"\"{part}\" is not a worker count from 1 to 64");
            counts.Add(n);
        }
        if (counts.Count == 0) throw new InputException("--workers", "expected counts such as 1,2,4,8");
        return counts;
    }

    static double Efficiency(ClusterBenchRun run, ClusterBenchRun baseline) =>
        run.JobsPerMinute / (baseline.JobsPerMinute / baseline.Workers * run.Workers);

    /// <param name="deviceMsPerJob">A timed device's steps per job; null for the real pack (no ideal, no overhead per job).</param>
    static void Print(IReadOnlyList<ClusterBenchRun> runs, int? deviceMsPerJob, int steps, int k, bool json)
    {
        var baseline = runs[0];
        var last = runs[^1];
        if (json)
        {
            var array = new JsonArray();
            foreach (var r in runs)
            {
                var run = new JsonObject
                {
                    ["workers"] = r.Workers, ["jobs"] = r.Jobs, ["seconds"] = r.Seconds, ["jobs_per_minute"] = r.JobsPerMinute,
                    ["efficiency"] = Efficiency(r, baseline), ["store_writes_per_job"] = (double)r.StoreWrites / r.Jobs,
                    ["store_writes_per_job_by_kind"] = new JsonObject(r.WritesByKind.OrderBy(p => p.Key, StringComparer.Ordinal)
                        .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)((double)p.Value / r.Jobs)))),
                };
                if (deviceMsPerJob is int ms)
                {
                    run["ideal_jobs_per_minute"] = 60_000.0 / ms * r.Workers;
                    run["overhead_ms_per_job"] = r.OverheadMsPerJob;
                }
                array.Add(run);
            }
            var root = deviceMsPerJob is int device
                ? new JsonObject { ["device_ms_per_job"] = device, ["runs"] = array }
                : new JsonObject { ["pack"] = Diagnostics.DefaultPack, ["steps"] = steps, ["k"] = k, ["runs"] = array };
            Console.Out.WriteLine(JsonSerializer.Serialize(root, new JsonSerializerOptions { WriteIndented = true }));
        }
        else if (deviceMsPerJob is int ms)
        {
            Console.Out.WriteLine($"device time per job: {ms} ms of steps (ideal {60_000.0 / ms:0.0} jobs/min per worker)");
            // "of ideal": against the steps alone (no scheduling, no events), which a loaded machine's baseline run cannot blur.
            Console.Out.WriteLine("workers  jobs  seconds  jobs/min  efficiency  of ideal  overhead ms/job  store writes/job");
            foreach (var r in runs)
                Console.Out.WriteLine($"{r.Workers,7}  {r.Jobs,4}  {r.Seconds,7:0.00}  {r.JobsPerMinute,8:0.0}  {Efficiency(r, baseline),10:0.00}  {r.JobsPerMinute / (60_000.0 / ms * r.Workers),8:0.00}  {r.OverheadMsPerJob,15:0.0}  {(double)r.StoreWrites / r.Jobs,16:0.0}");
        }
        else
        {
            Console.Out.WriteLine($"the {Diagnostics.DefaultPack} pack, K={k}, {steps} steps, on {Environment.ProcessorCount} cores shared by every worker silo");
            Console.Out.WriteLine("workers  jobs  seconds  jobs/min  efficiency  store writes/job");
            foreach (var r in runs)
                Console.Out.WriteLine($"{r.Workers,7}  {r.Jobs,4}  {r.Seconds,7:0.00}  {r.JobsPerMinute,8:0.0}  {Efficiency(r, baseline),10:0.00}  {(double)r.StoreWrites / r.Jobs,16:0.0}");
        }
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"efficiency at {last.Workers} workers: {Efficiency(last, baseline):0.00}"));
    }
}
