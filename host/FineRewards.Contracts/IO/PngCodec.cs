using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FineRewards.Contracts;

namespace FineRewards.Contracts.IO;

/// <summary>
/// The one PNG codec (host, CLI, packs, plugin): writes 8-bit RGB with tEXt chunks (the "parameters" chunk
/// AUTOMATIC1111 writes, which editors read back), and reads 8-bit greyscale, grey+alpha, RGB and RGBA,
/// checking every chunk's CRC so a damaged upload is refused instead of stored. Alpha is dropped by default
/// (the host keeps an upload's colours as sent) or composited over white (<see cref="Read"/>: files, the editor's layers).
/// </summary>
public static class PngCodec
{
    static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] Encode(RgbImage image, IEnumerable<KeyValuePair<string, string>>? text = null)
    {
        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], image.Height);
        ihdr[8] = 8;  // bits per channel
        ihdr[9] = 2;  // colour type: RGB
        ihdr[10] = 0; // deflate
        ihdr[11] = 0; // adaptive filtering
        ihdr[12] = 0; // not interlaced
        WriteChunk(output, "IHDR", ihdr);

        foreach (var (key, value) in text ?? [])
        {
            // tEXt is Latin-1; iTXt carries UTF-8 so prompts in any language survive.
            if (value.All(c => c < 256)) WriteChunk(output, "tEXt", [.. Encoding.Latin1.GetBytes(key), 0, .. Encoding.Latin1.GetBytes(value)]);
            else WriteChunk(output, "iTXt", [.. Encoding.Latin1.GetBytes(key), 0, 0, 0, 0, 0, .. Encoding.UTF8.GetBytes(value)]);
        }

        int stride = image.Width * 3;
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            // Filter "up" (2) on every row after the first: cheap and good on smooth renders.
            for (int y = 0; y < image.Height; y++)
            {
                var row = image.Pixels.AsSpan(y * stride, stride);
                if (y == 0) { z.WriteByte(0); z.Write(row); continue; }
                var above = image.Pixels.AsSpan((y - 1) * stride, stride);
                var filtered = new byte[stride];
                for (int i = 0; i < stride; i++) filtered[i] = (byte)(row[i] - above[i]);
                z.WriteByte(2);
                z.Write(filtered);
            }
        }
        WriteChunk(output, "IDAT", raw.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>
    /// Width and height from the IHDR chunk, which the PNG format puts first, without decoding anything:
    /// lets a caller refuse an image too large to decode from its first 33 bytes.
    /// </summary>
    /// <exception cref="InputException">Not a PNG, or its first chunk is not a complete IHDR.</exception>
    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> png, string field = "image")
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature))
            throw new InputException(field, "not a PNG file (bad signature)");
        if (png.Length < SizeHeaderBytes || Encoding.ASCII.GetString(png.Slice(12, 4)) != "IHDR")
            throw new InputException(field, "PNG does not start with its IHDR chunk");
        return (BinaryPrimitives.ReadInt32BigEndian(png[16..]), BinaryPrimitives.ReadInt32BigEndian(png[20..]));
    }

    /// <summary>Bytes <see cref="ReadSize"/> needs: the signature, IHDR's length and type, its 13 bytes of data.</summary>
    public const int SizeHeaderBytes = 8 + 8 + 13;

    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> through a temporary file.</summary>
    public static void Write(RgbImage image, string path, IEnumerable<KeyValuePair<string, string>>? text = null) =>
        AtomicFile.WriteAllBytes(path, Encode(image, text));

    /// <summary>A PNG file's pixels, transparent ones composited over white.</summary>
    /// <exception cref="InputException">The file is missing or not a PNG this codec reads (named by its path).</exception>
    public static RgbImage Read(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "image file does not exist");
        return Decode(File.ReadAllBytes(path), path, overWhite: true).Image;
    }

    /// <summary>The decoded pixels and the text chunks of a PNG.</summary>
    public sealed record Decoded(RgbImage Image, IReadOnlyDictionary<string, string> Text);

    /// <param name="overWhite">Composite transparent pixels over white; false drops alpha and keeps the colour values.</param>
    /// <exception cref="InputException">The bytes are not a PNG this host can read; the message says why.</exception>
    public static Decoded Decode(ReadOnlySpan<byte> png, string field = "image", bool overWhite = false)
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature))
            throw new InputException(field, "not a PNG file (bad signature)");
        int at = Signature.Length;
        int width = 0, height = 0, colourType = -1;
        var idat = new MemoryStream();
        var text = new Dictionary<string, string>();
        bool ended = false;
        while (!ended)
        {
            if (at + 12 > png.Length) throw new InputException(field, $"PNG truncated at byte {at}");
            int length = BinaryPrimitives.ReadInt32BigEndian(png[at..]);
            if (length < 0 || at + 12L + length > png.Length) throw new InputException(field, $"PNG truncated: the chunk at byte {at} runs past the end of the file");
            var typeAndData = png.Slice(at + 4, 4 + length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png[(at + 8 + length)..]);
            string type = Encoding.ASCII.GetString(typeAndData[..4]);
            if (Crc32(typeAndData) != crc) throw new InputException(field, $"PNG chunk {type} at byte {at} is damaged (CRC mismatch)");
            var data = typeAndData[4..];
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    colourType = data[9];
                    if (width <= 0 || height <= 0) throw new InputException(field, $"PNG size {width}x{height} is not positive");
                    if (data[8] != 8 || colourType is not (0 or 2 or 4 or 6))
                        throw new InputException(field, $"PNG with bit depth {data[8]} and colour type {colourType}: expected 8-bit greyscale, grey+alpha, RGB or RGBA");
                    if (data[12] != 0) throw new InputException(field, "interlaced PNG: save it without interlacing");
                    break;
                case "IDAT": idat.Write(data); break;
                case "tEXt":
                {
                    int nul = data.IndexOf((byte)0);
                    if (nul > 0) text[Encoding.Latin1.GetString(data[..nul])] = Encoding.Latin1.GetString(data[(nul + 1)..]);
                    break;
                }
                case "iTXt":
                {
                    int nul = data.IndexOf((byte)0);
                    // keyword \0 compression-flag method language \0 translated \0 text; only uncompressed is read.
                    if (nul > 0 && nul + 2 < data.Length && data[nul + 1] == 0)
                    {
                        var rest = data[(nul + 3)..];
                        int lang = rest.IndexOf((byte)0);
                        int translated = lang < 0 ? -1 : rest[(lang + 1)..].IndexOf((byte)0);
                        if (translated >= 0)
                            text[Encoding.Latin1.GetString(data[..nul])] = Encoding.UTF8.GetString(rest[(lang + 1 + translated + 1)..]);
                    }
                    break;
                }
                case "IEND": ended = true; break;
            }
            at += 12 + length;
        }
        if (colourType < 0) throw new InputException(field, "PNG has no IHDR chunk");
        int channels = colourType switch { 0 => 1, 4 => 2, 2 => 3, _ => 4 };
        return new Decoded(Unfilter(idat.ToArray(), width, height, channels, field, overWhite), text);
    }

    static RgbImage Unfilter(byte[] compressed, int width, int height, int channels, string field, bool overWhite)
    {
        int stride = width * channels;
        long expected = (long)(stride + 1) * height;
        if (expected > int.MaxValue) throw new InputException(field, $"PNG of {width}x{height} is too large");
        var raw = new byte[expected];
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            z.ReadExactly(raw);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new InputException(field, $"PNG image data does not decompress to {width}x{height} pixels ({e.Message})");
        }

        var prior = new byte[stride];
        var current = new byte[stride];
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            raw.AsSpan(y * (stride + 1) + 1, stride).CopyTo(current);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? current[i - channels] : 0;
                int b = prior[i];
                int c = i >= channels ? prior[i - channels] : 0;
                current[i] = filter switch
                {
                    0 => current[i],
                    1 => (byte)(current[i] + a),
                    2 => (byte)(current[i] + b),
                    3 => (byte)(current[i] + (a + b) / 2),
                    4 => (byte)(current[i] + Paeth(a, b, c)),
                    _ => throw new InputException(field, $"PNG row {y} has unknown filter {filter}"),
                };
            }
            bool grey = channels <= 2, alpha = channels is 2 or 4;
            for (int x = 0; x < width; x++)
            {
                int o = (y * width + x) * 3, a = alpha && overWhite ? current[x * channels + channels - 1] : 255;
                for (int ch = 0; ch < 3; ch++)
                {
                    int value = current[x * channels + (grey ? 0 : ch)];
                    // Straight alpha over white, rounded: value * a / 255 + 255 * (1 - a / 255).
                    pixels[o + ch] = a == 255 ? (byte)value : (byte)((value * a + 255 * (255 - a) + 127) / 255);
                }
            }
            (prior, current) = (current, prior);
        }
        return new RgbImage(width, height, pixels);
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header[4..]);
        output.Write(header);
        output.Write(data);
        byte[] typeAndData = [.. header[4..], .. data];
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
        output.Write(crc);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in bytes) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
