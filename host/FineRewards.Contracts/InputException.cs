namespace FineRewards.Contracts;

/// <summary>
/// Bad input from a user or a file. <see cref="Field"/> names what was wrong (a JSON path,
/// an option, a file) so the message can point at it; the message says what was expected.
/// </summary>
public sealed class InputException : Exception
{
    public string Field { get; }

    public InputException(string field, string message) : base($"{field}: {message}")
    {
        Field = field;
    }
}
