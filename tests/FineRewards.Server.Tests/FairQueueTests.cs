using FineRewards.Server.Jobs;

namespace FineRewards.Server.Tests;

public class FairQueueTests
{
    static List<string> Drain(FairQueue<string> q)
    {
        var order = new List<string>();
        while (q.TryDequeue(out var item)) order.Add(item);
        return order;
    }

    [Fact]
    public void Clients_are_served_in_turn_and_in_order_within_a_client()
    {
        var q = new FairQueue<string>();
        foreach (var (c, i) in new[] { ("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("c", "c1"), ("b", "b2") }) q.Enqueue(c, i);
        var predicted = q.InOrder();
        var drained = Drain(q);
        Assert.Equal(["a1", "b1", "c1", "a2", "b2", "a3"], drained);
        Assert.Equal(drained, predicted);
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public void Removing_an_item_keeps_the_rest_in_order()
    {
        var q = new FairQueue<string>();
        q.Enqueue("a", "a1");
        q.Enqueue("b", "b1");
        q.Enqueue("a", "a2");
        Assert.True(q.Remove("b1"));
        Assert.False(q.Remove("b1"));
        Assert.Equal(2, q.Count);
        Assert.Equal(["a1", "a2"], Drain(q));
    }

    [Fact]
    public void A_client_that_was_just_served_goes_behind_the_others()
    {
        var q = new FairQueue<string>();
        q.Enqueue("a", "a1");
        q.Enqueue("a", "a2");
        Assert.True(q.TryDequeue(out var first));
        Assert.Equal("a1", first);
        q.Enqueue("b", "b1");
        Assert.Equal(["b1", "a2"], q.InOrder());
        Assert.Equal(["b1", "a2"], Drain(q));
    }
}
