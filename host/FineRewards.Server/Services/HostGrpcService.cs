using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Work;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class HostGrpcService(ModelCatalog catalog, HostOptions options, IHostWorkers workers) : Api.HostService.HostServiceBase
{
    public static readonly string HostVersion =
        typeof(HostGrpcService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public override async Task<Api.GetCapabilitiesResponse> GetCapabilities(Api.GetCapabilitiesRequest request, ServerCallContext context)
    {
        var limits = options.Limits;
        var response = new Api.GetCapabilitiesResponse
        {
            ProtocolVersion = HostOptions.ProtocolVersion,
            HostVersion = HostVersion,
            DefaultPack = catalog.DefaultPack,
            Device = new Api.DeviceInfo
            {
                Kind = catalog.Device.Kind == DeviceKind.Gpu ? Api.DeviceKind.Gpu : Api.DeviceKind.Cpu,
                Name = catalog.Device.Name,
                MemoryBytes = catalog.Device.MemoryBytes,
            },
            Limits = new Api.HostLimits
            {
                MaxK = limits.MaxK, MaxWidth = limits.MaxWidth, MaxHeight = limits.MaxHeight, MaxSteps = limits.MaxSteps,
                MaxPromptLength = limits.MaxPromptLength, MaxQueuedJobs = limits.MaxQueuedJobs,
                MaxUploadBytes = limits.MaxUploadBytes, MaxMessageBytes = limits.MaxMessageBytes, MaxImagePixels = limits.MaxImagePixels,
            },
        };
        foreach (var p in catalog.Packs())
        {
            var info = new Api.PackInfo
            {
                Name = p.Name,
                Folder = p.Folder,
                State = p.State switch
                {
                    PackState.Ready => Api.PackState.Ready,
                    PackState.Loading => Api.PackState.Loading,
                    PackState.Missing => Api.PackState.Missing,
                    _ => Api.PackState.Failed,
                },
            };
            info.Problems.AddRange(p.Problems);
            info.Fix = p.Fix;
            var capabilities = catalog.Capabilities(p.Name);
            info.Rewards.AddRange(capabilities.Rewards);
            info.DefaultRewards.AddRange(capabilities.DefaultRewards);
            info.Samplers.AddRange(capabilities.Samplers);
            response.Packs.Add(info);
        }
        // Every pack's rewards, named from the start (a pack still loading has them too); the version once loaded.
        var versions = catalog.LoadedRewards().ToDictionary(r => r.Name, r => r.Version);
        response.Rewards.AddRange(response.Packs.SelectMany(p => p.Rewards).Distinct()
            .Select(name => new Api.RewardInfo { Name = name, Version = versions.GetValueOrDefault(name, "") }));
        response.Judges.AddRange(catalog.Judges.Select(j => new Api.JudgeInfo { Name = j.Name, Version = j.Version }));
        foreach (var w in await workers.WorkersAsync(context.CancellationToken))
        {
            var info = new Api.WorkerInfo
            {
                Id = w.Id, LoadedPack = w.LoadedPack ?? "", Busy = w.Busy, JobId = w.JobId ?? "", QueueLength = w.Queued,
                Utilisation = w.Utilisation, JobsDone = w.JobsDone,
            };
            info.Packs.AddRange(w.Packs);
            info.LoadedLoras.AddRange(w.LoadedLoras);
            response.Workers.Add(info);
        }
        return response;
    }

    /// <summary>Submit's own prompt check; a refusal is an answer here (ok = false), not an error status.</summary>
    public override Task<Api.CheckPromptResponse> CheckPrompt(Api.CheckPromptRequest request, ServerCallContext context)
    {
        try
        {
            SubmissionValidator.CheckPrompt(request.Pack, request.Prompt, options.Limits, catalog);
            return Task.FromResult(new Api.CheckPromptResponse { Ok = true });
        }
        catch (Exception e) when (e is InputException or HostException)
        {
            string field = e is InputException i ? i.Field : ((HostException)e).Field;
            return Task.FromResult(new Api.CheckPromptResponse { Ok = false, Message = e.Message, Fix = Fix(field, request.Pack) });
        }
    }

    string Fix(string field, string pack)
    {
        if (field != "prompt")
            return $"choose a ready pack (packs: {string.Join(", ", catalog.Packs().Where(p => p.State == PackState.Ready).Select(p => p.Name))}) or run `finerewards doctor` on the host";
        var example = catalog.Capabilities(pack.Length == 0 ? catalog.DefaultPack : pack).ExamplePrompt;
        return example is null ? "rewrite the prompt" : $"write it the way the pack understands prompts, e.g. \"{example}\"";
    }
}
