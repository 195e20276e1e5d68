using System.Diagnostics;

namespace FineRewards.Server.Tests;

/// <summary>
/// Skips (with the reason) unless python3 with grpc and protobuf, protoc and grpc_python_plugin are
/// installed: Debian's python3-grpcio python3-protobuf protobuf-compiler-grpc libprotobuf-dev. Under CI=true the
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

    public const string WellKnownTimestampProto = "/usr/include/google/protobuf/timestamp.proto";

    public static string? Missing()
    {
        if (Run(Python, "-c", "import grpc, google.protobuf").Code != 0)
            return "python3 with grpc and protobuf is not installed (apt-get install python3-grpcio python3-protobuf)";
        if (Run("protoc", "--version").Code != 0 || Run("which", "grpc_python_plugin").Code != 0)
            return "protoc or grpc_python_plugin is not installed (apt-get install protobuf-compiler-grpc)";
        // The protos import google/protobuf/timestamp.proto; protoc looks for it beside itself, in /usr/include.
        if (!File.Exists(WellKnownTimestampProto))
            return $"{WellKnownTimestampProto} is missing: protoc cannot compile the protos (apt-get install libprotobuf-dev)";
        return null;
    }
}
