using FineRewards.Contracts;

namespace FineRewards.Core.Tests.Contracts;

public class RunLengthMaskTests
{
    [Fact]
    public void Runs_start_with_zeros_and_round_trip()
    {
        bool[] bits = { true, true, false, false, false, true };
        var mask = RunLengthMask.FromBits(3, 2, bits);
        Assert.Equal(new[] { 0, 2, 3, 1 }, mask.Runs);
        Assert.Equal(bits, mask.ToBits());
        Assert.Equal(3, mask.Area);
    }

    [Fact]
    public void Runs_that_do_not_cover_the_mask_are_rejected()
    {
        Assert.Throws<InvalidDataException>(() => new RunLengthMask(2, 2, new[] { 1, 1 }).ToBits());
        Assert.Throws<InvalidDataException>(() => new RunLengthMask(2, 2, new[] { 3, 3 }).ToBits());
    }

    [Fact]
    public void Verdicts_score_as_in_the_paper()
    {
        Assert.Equal(0.5, Verdict.Certain.Score());
        Assert.Equal(0.0, Verdict.May.Score());
        Assert.Equal(-0.5, Verdict.Unlikely.Score());
        Assert.Equal(Verdict.May, VerdictValues.Parse(" May "));
        Assert.Throws<InputException>(() => VerdictValues.Parse("maybe"));
    }

    [Fact]
    public void Images_check_their_buffer_size()
    {
        Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11]));
        var image = new RgbImage(2, 1, new byte[] { 1, 2, 3, 4, 5, 6 });
        Assert.Equal(((byte)4, (byte)5, (byte)6), image[1, 0]);
    }
}
