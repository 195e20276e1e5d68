using System.Text.Json;
using FineRewards.Server.Storage;

namespace FineRewards.Server.Tests;

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
