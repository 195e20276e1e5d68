using System.Diagnostics;
using System.Text.Json;
using FineRewards.Server.Storage;

namespace FineRewards.Server.Tests;

/// <summary>
/// Skips (with the reason) unless python3 with grpc and protobuf, protoc and grpc_python_plugin are
/// installed: Debian's python3-grpcio python3-protobuf protobuf-compiler-grpc. Under CI=true the
/// packages are installed by build/install-deps.sh, so a missing one there is a failure, not a skip.
/// </summary>
public sealed class PythonGrpcFactAttribute : FactAttribute
{
    public PythonGrpcFactAttribute()
    {
        if (PythonClient.Missing() is { } reason && Environment.GetEnvironmentVariable("CI") != "true") Skip = reason;
    }
}

public static class PythonClient
{
    /// <summary>Debian's packages install for the system interpreter; prefer it over one earlier on PATH.</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(60_000)) { p.Kill(true); return (-1, "", "timed out"); }
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, "", e.Message); }
    }

    public static string? Missing()
    {
        if (Run(Python, "-c", "import grpc, google.protobuf").Code != 0)
            return "python3 with grpc and protobuf is not installed (apt-get install python3-grpcio python3-protobuf)";
        if (Run("protoc", "--version").Code != 0 || Run("which", "grpc_python_plugin").Code != 0)
            return "protoc or grpc_python_plugin is not installed (apt-get install protobuf-compiler-grpc)";
        return null;
    }
}

public class PythonClientTests
{
    [PythonGrpcFact]
    public async Task A_python_editor_client_drives_the_host_from_generated_stubs()
    {
        await using var host = await TestHost.StartAsync();
        string script = Path.Combine(AppContext.BaseDirectory, "editor_client.py");
        string protos = Path.Combine(AppContext.BaseDirectory, "protos");
        var (code, stdout, stderr) = await Task.Run(() => PythonClient.Run(PythonClient.Python, script, $"127.0.0.1:{host.Host.Address.Port}", protos));
        Assert.True(code == 0, $"python client failed ({code}): {stderr}");

        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal("1.0", r.GetProperty("protocol_version").GetString());
        Assert.Contains("solid", r.GetProperty("ready_packs").EnumerateArray().Select(e => e.GetString()));
        // The Python side hashed nothing: the host's id must be the SHA-256 of the bytes Python wrote.
        string id = r.GetProperty("uploaded").GetProperty("image_id").GetString()!;
        Assert.True(File.Exists(Path.Combine(host.DataDirectory, "images", id[..2], id + ".png")));
        Assert.Equal(3, r.GetProperty("uploaded").GetProperty("height").GetInt32());
        Assert.True(r.GetProperty("has_uploaded").GetBoolean());
        Assert.Equal("INVALID_ARGUMENT", r.GetProperty("invalid_k").GetProperty("code").GetString());
        Assert.Equal("k", r.GetProperty("invalid_k").GetProperty("field").GetString());
        Assert.True(r.GetProperty("resubmit_existing").GetBoolean());

        var sequences = r.GetProperty("sequences").EnumerateArray().Select(e => e.GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
        Assert.Equal(sequences.Skip(3), r.GetProperty("resumed_sequences").EnumerateArray().Select(e => e.GetInt64()));
        var kinds = r.GetProperty("kinds").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(["queued", "started"], kinds.Take(2));
        Assert.Equal(["ranked", "completed"], kinds.TakeLast(2));
        Assert.Equal(3, kinds.Count(k => k == "candidate_scored"));
        Assert.Equal(3, r.GetProperty("order").GetArrayLength());
        Assert.True(r.GetProperty("selected_png_signature_ok").GetBoolean());
        Assert.True(r.GetProperty("selected_has_parameters").GetBoolean());
    }
}
