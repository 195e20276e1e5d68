using FineRewards.Contracts;
using FineRewards.Cli.Cli;

namespace FineRewards.Cli.Tests;

public class GenerationConsoleProgressTests
{
    static string Run(bool terminal)
    {
        var output = new StringWriter();
        var progress = new GenerationConsoleProgress(output, terminal);
        for (int prompt = 0; prompt < 40; prompt++)
        {
            progress.Prompt = (prompt, 40);
            for (int step = 1; step <= 30; step++) progress.Report(new GenerationProgress(step, 30, step == 30 ? 4 : 0, 4));
        }
        progress.End();
        return output.ToString();
    }

    [Fact]
    public void Redirected_output_gets_plain_lines_a_prompts_first_and_last_step_when_steps_come_fast()
    {
        string text = Run(terminal: false);
        Assert.DoesNotContain('\r', text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // 40 prompts x 30 steps in well under the 2 s interval: only the first and last step of each prompt.
        Assert.Equal(80, lines.Length);
        Assert.Equal("prompt 1/40: step 1/30, candidates done 0/4", lines[0]);
        Assert.Equal("prompt 40/40: step 30/30, candidates done 4/4", lines[^1]);
    }

    [Fact]
    public void A_terminal_gets_one_line_redrawn_in_place()
    {
        string text = Run(terminal: true);
        Assert.Equal(1200, text.Count(c => c == '\r'));
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
