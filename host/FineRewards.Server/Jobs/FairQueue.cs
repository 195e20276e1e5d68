namespace FineRewards.Server.Jobs;

/// <summary>
/// First in, first out per client, round-robin across clients: with A1 A2 A3 B1 queued the order
/// is A1 B1 A2 A3, so one client's batch never starves another's single job. Not thread-safe.
/// </summary>
public sealed class FairQueue<T> where T : class
{
    readonly Dictionary<string, LinkedList<T>> byClient = new(StringComparer.Ordinal);
    // Clients with waiting items; the head is served next.
    readonly LinkedList<string> rotation = new();
    // The client served last, back in the rotation because it has more: a new client goes ahead of it.
    LinkedListNode<string>? lastServed;

    public int Count { get; private set; }

    public void Enqueue(string client, T item)
    {
        if (!byClient.TryGetValue(client, out var items))
        {
            byClient[client] = items = new LinkedList<T>();
            if (lastServed?.List is not null) rotation.AddBefore(lastServed, client);
            else rotation.AddLast(client);
        }
        items.AddLast(item);
        Count++;
    }

    public bool TryDequeue(out T item)
    {
        item = null!;
        if (rotation.First is not { } head) return false;
        string client = head.Value;
        var items = byClient[client];
        item = items.First!.Value;
        items.RemoveFirst();
        rotation.RemoveFirst();
        if (items.Count > 0) lastServed = rotation.AddLast(client);
        else
        {
            byClient.Remove(client);
            lastServed = null;
        }
        Count--;
        return true;
    }

    public bool Remove(T item)
    {
        for (var node = rotation.First; node is not null; node = node.Next)
        {
            var items = byClient[node.Value];
            if (!items.Remove(item)) continue;
            if (items.Count == 0)
            {
                byClient.Remove(node.Value);
                if (node == lastServed) lastServed = null;
                rotation.Remove(node);
            }
            Count--;
            return true;
        }
        return false;
    }

    /// <summary>Every item in the order <see cref="TryDequeue"/> would return them.</summary>
    public IReadOnlyList<T> InOrder()
    {
        var cursors = rotation.Select(c => byClient[c].First).ToList();
        var order = new List<T>(Count);
        while (order.Count < Count)
        {
            for (int i = 0; i < cursors.Count; i++)
            {
                if (cursors[i] is not { } node) continue;
                order.Add(node.Value);
                cursors[i] = node.Next;
            }
        }
        return order;
    }
}
