using LLama.Native;

namespace FineRewards.Judge.Llm;

/// <summary>
/// Keeps llama.cpp's log instead of letting it spill onto stderr, so a failed model load can quote what the
/// native side said (wrong magic, missing tensor, out of memory) in its exception. Process-wide, installed once.
/// </summary>
public static class LlamaNativeLog
{
    const int Keep = 400;
    static readonly object Gate = new();
    static readonly Queue<string> Recent = new();
    static bool _installed;
    static string _partial = "";

    public static void Install()
    {
        lock (Gate)
        {
            if (_installed) return;
            // Before the native library loads, the config is the only way in; afterwards llama_log_set is.
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded) NativeLibraryConfig.All.WithLogCallback(OnLog);
            else NativeLogConfig.llama_log_set(OnLog);
            _installed = true;
        }
    }

    /// <summary>A marker to pass to <see cref="Since"/>.</summary>
    public static long Mark()
    {
        lock (Gate) return _written;
    }

    static long _written;

    /// <summary>The complete log lines written since <paramref name="mark"/> (at most the last few hundred).</summary>
    public static IReadOnlyList<string> Since(long mark)
    {
        lock (Gate)
        {
            long available = Math.Min(_written - mark, Recent.Count);
            return Recent.Skip(Recent.Count - (int)available).ToList();
        }
    }

    static void OnLog(LLamaLogLevel level, string message)
    {
        lock (Gate)
        {
            // llama.cpp sends pieces of lines (and CONT continuations); join them into whole lines.
            string text = _partial + message;
            int end;
            while ((end = text.IndexOf('\n')) >= 0)
            {
                string line = text[..end].TrimEnd();
                if (line.Length > 0)
                {
                    Recent.Enqueue(line);
                    _written++;
                    if (Recent.Count > Keep) Recent.Dequeue();
                }
                text = text[(end + 1)..];
            }
            _partial = text;
        }
    }
}
