using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Lora;

/// <summary>
/// A small model whose layer names follow diffusers' transformer blocks
/// (blocks.{i}.attn1.to_q ... to_out.0, blocks.{i}.ff.net.0.proj, ff.net.2), so LoRA can be
/// tested without a UNet.
/// </summary>
sealed class TinyAttentionNet : nn.Module<Tensor, Tensor>
{
    sealed class Attention : nn.Module<Tensor, Tensor>
    {
        readonly Linear to_q, to_k, to_v;
        readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;

        public Attention(long dim) : base("Attention")
        {
            to_q = nn.Linear(dim, dim, hasBias: false);
            to_k = nn.Linear(dim, dim, hasBias: false);
            to_v = nn.Linear(dim, dim, hasBias: false);
            to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(dim, dim), nn.Dropout(0.0));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            // x: [B, T, C]; single-head attention.
            var q = to_q.call(x);
            var k = to_k.call(x);
            var v = to_v.call(x);
            var w = q.matmul(k.transpose(1, 2)).div(Math.Sqrt(x.shape[2])).softmax(-1); // [B, T, T]
            var h = w.matmul(v);
            foreach (var m in to_out) h = m.call(h);
            return h;
        }
    }

    sealed class Proj : nn.Module<Tensor, Tensor>
    {
        readonly Linear proj;
        public Proj(long dim) : base("Proj") { proj = nn.Linear(dim, dim * 2); RegisterComponents(); }
        public override Tensor forward(Tensor x) => nn.functional.gelu(proj.call(x));
    }

    sealed class FeedForward : nn.Module<Tensor, Tensor>
    {
        readonly ModuleList<nn.Module<Tensor, Tensor>> net;
        public FeedForward(long dim) : base("FeedForward")
        {
            net = nn.ModuleList<nn.Module<Tensor, Tensor>>(new Proj(dim), nn.Dropout(0.0), nn.Linear(dim * 2, dim));
            RegisterComponents();
        }
        public override Tensor forward(Tensor x)
        {
            foreach (var m in net) x = m.call(x);
            return x;
        }
    }

    sealed class Block : nn.Module<Tensor, Tensor>
    {
        readonly Attention attn1;
        readonly FeedForward ff;
        public Block(long dim) : base("Block") { attn1 = new Attention(dim); ff = new FeedForward(dim); RegisterComponents(); }
        public override Tensor forward(Tensor x)
        {
            x = x.add(attn1.call(x));
            return x.add(ff.call(x));
        }
    }

    readonly ModuleList<Block> blocks;

    public TinyAttentionNet(long dim = 8, int depth = 2, long seed = 7) : base("TinyAttentionNet")
    {
        random.manual_seed(seed);
        blocks = nn.ModuleList(Enumerable.Range(0, depth).Select(_ => new Block(dim)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var b in blocks) x = b.call(x);
        return x;
    }
}
