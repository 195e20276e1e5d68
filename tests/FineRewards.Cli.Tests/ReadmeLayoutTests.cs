using System.Runtime.CompilerServices;

namespace FineRewards.Cli.Tests;

public class ReadmeLayoutTests
{
    static string Root([CallerFilePath] string source = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", ".."));

    [Fact]
    public void The_layout_section_names_each_folder_once_and_every_one_exists()
    {
        string readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        int start = readme.IndexOf("## Layout", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no Layout section");
        int open = readme.IndexOf("```\n", start, StringComparison.Ordinal) + 4;
        var paths = readme[open..readme.IndexOf("```", open, StringComparison.Ordinal)]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();

        Assert.Equal(paths.Distinct(), paths);
        Assert.All(paths, p => Assert.True(File.Exists(Path.Combine(Root(), p)) || Directory.Exists(Path.Combine(Root(), p)), $"{p} is not in the tree"));
    }
}
