namespace FineRewards.Judge.Llm;

/// <summary>
/// Settings of the LLM label judge. The defaults are ours, chosen for a judge that answers a few dozen short
/// lines: not LLamaSharp's (whose context defaults to the model's full training length and can need gigabytes).
/// </summary>
/// <param name="ModelPath">Any instruction-tuned GGUF model.</param>
/// <param name="ContextSize">Tokens of context: prompt plus answer must fit; longer label lists are split.</param>
/// <param name="Threads">CPU threads; null takes Environment.ProcessorCount.</param>
/// <param name="GpuLayers">Layers offloaded to a GPU; 0 keeps everything on the CPU (the only choice on CPU builds).</param>
/// <param name="MaxLabelsPerQuery">Labels asked in one query; more are split over several queries.</param>
/// <param name="BatchSize">Prompt tokens decoded per llama_decode call.</param>
/// <param name="CachePath">A JSON file that keeps verdicts across runs; null keeps them in memory only.</param>
/// <param name="UseChatTemplate">Wrap the question in the model's chat template when the GGUF has one.</param>
public sealed record LlmJudgeOptions(
    string ModelPath,
    uint ContextSize = 2048,
    int? Threads = null,
    int GpuLayers = 0,
    int MaxLabelsPerQuery = 32,
    uint BatchSize = 512,
    string? CachePath = null,
    bool UseChatTemplate = true);

/// <summary>What the judge has done so far (for benchmarks and logs).</summary>
/// <param name="Queries">Model queries run (a Judge call answered from the cache runs none).</param>
/// <param name="PromptTokens">Prompt tokens decoded over all queries.</param>
/// <param name="ReusedPromptTokens">Prompt tokens not decoded because the context still held them from the previous query.</param>
/// <param name="GeneratedTokens">Answer tokens sampled over all queries.</param>
/// <param name="CacheHits">Labels answered from the cache.</param>
/// <param name="CacheMisses">Labels that needed the model.</param>
public sealed record LlmJudgeCounters(long Queries, long PromptTokens, long ReusedPromptTokens, long GeneratedTokens, long CacheHits, long CacheMisses);
