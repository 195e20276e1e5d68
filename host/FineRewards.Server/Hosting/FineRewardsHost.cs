using FineRewards.Server.Feedback;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Services;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using FineRewards.Server.Work;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NLog.Config;
using NLog.Extensions.Logging;
using NLog.Targets;

namespace FineRewards.Server.Hosting;

/// <summary>
/// A running host: Kestrel (HTTP/2 cleartext) with the FineRewards services, health and (optionally)
/// reflection, over one data directory. `finerewards serve`, the tests and the benchmark all start it here.
/// </summary>
public sealed class FineRewardsHost : IAsyncDisposable
{
    public WebApplication App { get; }
    /// <summary>The address clients dial, e.g. http://127.0.0.1:50151 (the real port when 0 was asked for).</summary>
    public Uri Address { get; }
    readonly NLog.LogFactory logFactory;

    FineRewardsHost(WebApplication app, Uri address, NLog.LogFactory logFactory)
    {
        App = app;
        Address = address;
        this.logFactory = logFactory;
    }

    /// <param name="configure">Runs after the host's own registrations: `serve --cluster` adds its silo there and
    /// replaces <see cref="IGenerationJobs"/>, <see cref="ITrainingJobs"/>, <see cref="IHostWorkers"/>, <see cref="IHostFeedback"/> and the <see cref="ImageStore"/> (the last registration wins).</param>
    /// <param name="map">Runs after the host's services are mapped (e.g. the cluster's dashboard).</param>
    public static async Task<FineRewardsHost> StartAsync(HostOptions options, HostModels models, CancellationToken cancellationToken = default,
        Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null)
    {
        var ip = options.BindAddress();
        Directory.CreateDirectory(options.DataDirectory);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = options.DataDirectory });

        var logFactory = Logging(options);
        builder.Logging.ClearProviders();
        // NLog drops the filters below unless told to keep them (RemoveLoggerFactoryFilter is on by default):
        // without them the health publisher logged the default pack as an ERROR while it was still loading.
        builder.Logging.AddNLog(logFactory.Configuration!, new NLogProviderOptions { RemoveLoggerFactoryFilter = false });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Grpc", LogLevel.Warning)
            // The health publisher would log a missing pack as an error every few seconds; it is logged once at start.
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(ip, options.Port, l => l.Protocols = HttpProtocols.Http2);
            k.Limits.MaxRequestBodySize = null; // uploads are bounded per message (1 MiB) and in total by MaxUploadBytes
        });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));

        var limits = options.Limits;
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(limits);
        builder.Services.AddSingleton(models);
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddSingleton(_ => new HostDatabase(options.DatabasePath));
        builder.Services.AddSingleton(_ => new ImageStore(options.ImagesFolder));
        builder.Services.AddSingleton<JobRunner>();
        builder.Services.AddSingleton<JobManager>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<JobManager>());
        builder.Services.AddSingleton<FeedbackStore>();
        builder.Services.AddSingleton(_ => new TrainingDatabase(options.DatabasePath));
        builder.Services.AddSingleton<TrainingRunner>();
        builder.Services.AddSingleton<TrainingManager>();
        builder.Services.AddSingleton<IGenerationJobs, LocalGenerationJobs>();
        builder.Services.AddSingleton<ITrainingJobs, LocalTrainingJobs>();
        builder.Services.AddSingleton<IHostWorkers, LocalHostWorkers>();
        builder.Services.AddSingleton<IHostFeedback, LocalFeedback>();
        builder.Services.AddHostedService<WorkerStatusLogger>();

        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = limits.MaxMessageBytes;
            o.MaxSendMessageSize = limits.MaxMessageBytes;
            o.Interceptors.Add<AuthInterceptor>();
            o.Interceptors.Add<ErrorInterceptor>();
        });
        builder.Services.AddGrpcHealthChecks().AddCheck<DefaultPackHealthCheck>("default-pack");
        if (options.Reflection) builder.Services.AddGrpcReflection();
        // After every AddGrpc*: each service is bound with checked request deserializers instead of grpc-dotnet's default binder.
        builder.Services.RemoveAll(typeof(IServiceMethodProvider<>));
        builder.Services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(CheckedRequestMethodProvider<>));

        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGrpcService<HostGrpcService>();
        app.MapGrpcService<GenerationGrpcService>();
        app.MapGrpcService<ImageGrpcService>();
        app.MapGrpcService<FeedbackGrpcService>();
        app.MapGrpcService<TrainingGrpcService>();
        app.MapGrpcHealthChecksService();
        if (options.Reflection) app.MapGrpcReflectionService();
        map?.Invoke(app);

        // Before the first call can arrive: jobs the last run left unfinished are marked failed here.
        app.Services.GetRequiredService<JobManager>();
        app.Services.GetRequiredService<TrainingManager>();
        app.Services.GetRequiredService<ModelCatalog>().StartLoading(app.Lifetime.ApplicationStopping);

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            // A pack still loading (native code) while the process ends aborted it (exit 134) instead of the one-line error.
            await app.Services.GetRequiredService<ModelCatalog>().LoadingDone;
            await app.DisposeAsync();
            logFactory.Shutdown();
            throw new FineRewards.Contracts.InputException("--port", $"port {options.Port} is in use on {ip}; use --port to choose another (or stop what listens there)");
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = new Uri(bound.Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal));
        app.Logger.LogInformation("FineRewards host {Version} listening on {Address} (data {Data}, auth {Auth}, reflection {Reflection})",
            HostGrpcService.HostVersion, address, options.DataDirectory, options.Token is null ? "off" : "on", options.Reflection ? "on" : "off");
        return new FineRewardsHost(app, address, logFactory);
    }

    /// <summary>Console and a rolling file under {data}/logs; each line carries the job id it is about, or "-".</summary>
    static NLog.LogFactory Logging(HostOptions options)
    {
        const string layout = "${longdate} ${level:uppercase=true:padding=-5} job=${scopeproperty:item=JobId:whenEmpty=-} ${logger:shortName=true}: ${message}${onexception:inner= ${exception:format=tostring}}";
        var factory = new NLog.LogFactory();
        var config = new LoggingConfiguration(factory);
        var file = new FileTarget("file")
        {
            FileName = Path.Combine(options.LogsFolder, "host.log"),
            Layout = layout,
            ArchiveAboveSize = 10 << 20,
            MaxArchiveFiles = 5,
        };
        // Kestrel, routing and gRPC write a few Info lines for every call (hundreds a minute with an
        // editor polling): per-call detail is Debug here, so only their warnings reach the log, and
        // Info is the host's own story (packs, jobs, training, feedback). NLog decides alone: it
        // drops Microsoft.Extensions.Logging's filters.
        var debugOnly = new NullTarget("per-call");
        // Orleans (serve --cluster) logs its configuration and every membership and placement step at Info.
        foreach (string perCall in new[] { "Microsoft.*", "Grpc.*", "System.Net.*", "Orleans.*", "Polly" })
            config.AddRule(NLog.LogLevel.Trace, NLog.LogLevel.Info, debugOnly, perCall, final: true);
        config.AddRule(NLog.LogLevel.Info, NLog.LogLevel.Fatal, file);
        if (options.LogToConsole) config.AddRule(NLog.LogLevel.Info, NLog.LogLevel.Fatal, new ConsoleTarget("console") { Layout = layout });
        factory.Configuration = config;
        return factory;
    }

    public Task WaitForShutdownAsync() => App.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        logFactory.Shutdown();
    }
}

/// <summary>The gRPC health service reports SERVING only once the default pack is loaded.</summary>
public sealed class DefaultPackHealthCheck(ModelCatalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var a = catalog.Availability(catalog.DefaultPack);
        return Task.FromResult(a?.State == PackState.Ready
            ? HealthCheckResult.Healthy($"pack {catalog.DefaultPack} is loaded")
            : HealthCheckResult.Unhealthy($"pack {catalog.DefaultPack} is {a?.State.ToString().ToLowerInvariant() ?? "not configured"}"));
    }
}
