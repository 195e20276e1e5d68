using TorchSharp;
using static TorchSharp.torch;
using Xunit.Abstractions;
public class ProbeMeta(ITestOutputHelper o)
{
    [Fact]
    public void Meta()
    {
        var meta = torch.device(DeviceType.META);
        o.WriteLine($"default {torch.get_default_device()}");
        torch.set_default_device(meta);
        try {
            var lin = nn.Linear(10000, 10000);
            o.WriteLine($"lin {lin.weight!.device} {string.Join(",", lin.weight.shape)}");
            var conv = nn.Conv2d(1000, 1000, 3, padding: 1);
            o.WriteLine($"conv {conv.weight!.device}");
            var gn = FineRewards.Diffusion.Nn.Norms.GroupNorm(32, 320);
            o.WriteLine($"gn {gn.weight!.device}");
            var ln = nn.LayerNorm(320);
            o.WriteLine($"ln {ln.weight!.device}");
            var ml = new TorchSharp.Modules.ModuleList<nn.Module>(nn.Linear(3,4));
            foreach (var (n, p) in ml.named_parameters()) o.WriteLine(n);
        } finally { torch.set_default_device(torch.CPU); }
        var l2 = nn.Linear(3,3, device: meta);
        o.WriteLine($"l2 {l2.weight!.device}");
        var c2 = nn.Linear(3,3);
        o.WriteLine($"c2 {c2.weight!.device}");
    }
}
