using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Server.Storage;

namespace FineRewards.Server.Tests;

public class PngCodecTests
{
    static RgbImage Gradient(int w, int h) =>
        new(w, h, Enumerable.Range(0, w * h * 3).Select(i => (byte)(i * 7 % 251)).ToArray());

    [Fact]
    public void Encode_then_decode_gives_the_same_pixels_and_text()
    {
        var image = Gradient(13, 9);
        byte[] png = PngCodec.Encode(image, [new("parameters", "a cat\nSteps: 5"), new("comment", "ünïcode ✓")]);
        var decoded = PngCodec.Decode(png);
        Assert.Equal(image.Pixels, decoded.Image.Pixels);
        Assert.Equal("a cat\nSteps: 5", decoded.Text["parameters"]);
        Assert.Equal("ünïcode ✓", decoded.Text["comment"]);
    }

    [Fact]
    public void Decodes_rgba_and_every_filter_type()
    {
        // A hand-made 2x5 RGBA PNG whose rows use filters 0..4, compressed with the same zlib.
        int w = 2, h = 5;
        var rows = new List<byte>();
        var rgba = Enumerable.Range(0, w * h * 4).Select(i => (byte)(i * 13 % 256)).ToArray();
        var prior = new byte[w * 4];
        for (int y = 0; y < h; y++)
        {
            var row = rgba.AsSpan(y * w * 4, w * 4).ToArray();
            rows.Add((byte)y);
            for (int i = 0; i < row.Length; i++)
            {
                int a = i >= 4 ? row[i - 4] : 0, b = prior[i], c = i >= 4 ? prior[i - 4] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = y switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => pa <= pb && pa <= pc ? a : pb <= pc ? b : c };
                rows.Add((byte)(row[i] - predictor));
            }
            prior = row;
        }
        byte[] png = PngBytes(w, h, colourType: 6, rows.ToArray());
        var image = PngCodec.Decode(png).Image;
        for (int i = 0; i < w * h; i++)
            Assert.Equal((rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]), image[i % w, i / w]);
    }

    static byte[] PngBytes(int w, int h, byte colourType, byte[] filteredRows)
    {
        // Re-use the encoder's chunk framing by encoding a dummy image and swapping IHDR and IDAT.
        using var z = new MemoryStream();
        using (var zs = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.Fastest, true)) zs.Write(filteredRows);
        var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8;
        ihdr[9] = colourType;
        Chunk(output, "IHDR", ihdr);
        Chunk(output, "IDAT", z.ToArray());
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        byte[] typeAndData = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        s.Write(typeAndData);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(typeAndData));
        s.Write(crc);
    }

    // Bitwise CRC-32 (no table), written separately from the codec's so a shared bug cannot hide.
    static uint Crc(byte[] bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
        }
        return ~c;
    }

    [Fact]
    public void Truncated_and_damaged_files_are_refused_with_the_reason()
    {
        byte[] png = PngCodec.Encode(Gradient(8, 8));
        Assert.Contains("truncated", Assert.Throws<InputException>(() => PngCodec.Decode(png.AsSpan(0, png.Length - 14))).Message);
        var damaged = png.ToArray();
        damaged[20] ^= 1; // inside IHDR
        Assert.Contains("IHDR", Assert.Throws<InputException>(() => PngCodec.Decode(damaged)).Message);
        Assert.Contains("signature", Assert.Throws<InputException>(() => PngCodec.Decode([1, 2, 3])).Message);
    }

    [Fact]
    public void Sixteen_bit_images_are_refused_not_misread()
    {
        byte[] png = PngBytes(1, 1, colourType: 2, [0, 0, 0, 0, 0, 0, 0]);
        png[24] = 16; // bit depth in IHDR; fix its CRC
        var ihdr = png.AsSpan(12, 17).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc(ihdr));
        Assert.Contains("bit depth 16", Assert.Throws<InputException>(() => PngCodec.Decode(png)).Message);
    }

    [Fact]
    public void Alpha_is_dropped_for_uploads_and_composited_over_white_for_files()
    {
        // One row: opaque red, half-transparent blue, fully transparent green (filter 0).
        byte[] rgba = [255, 0, 0, 255, 0, 0, 255, 128, 0, 255, 0, 0];
        byte[] png = PngBytes(3, 1, colourType: 6, [0, .. rgba]);
        var dropped = PngCodec.Decode(png).Image;
        Assert.Equal(((byte)0, (byte)0, (byte)255), dropped[1, 0]);
        Assert.Equal(((byte)0, (byte)255, (byte)0), dropped[2, 0]);

        string path = Path.Combine(Path.GetTempPath(), $"png-alpha-{Guid.NewGuid():N}.png");
        try
        {
            File.WriteAllBytes(path, png);
            var flat = PngCodec.Read(path);
            Assert.Equal(((byte)255, (byte)0, (byte)0), flat[0, 0]);
            Assert.Equal(((byte)127, (byte)127, (byte)255), flat[1, 0]);   // (0 * 128 + 255 * 127 + 127) / 255 = 127
            Assert.Equal(((byte)255, (byte)255, (byte)255), flat[2, 0]);
        }
        finally { File.Delete(path); }
        var missing = Assert.Throws<InputException>(() => PngCodec.Read(path));
        Assert.Equal(path, missing.Field);
    }

    [Fact]
    public void Grey_with_alpha_reads_as_grey()
    {
        byte[] png = PngBytes(2, 1, colourType: 4, [0, 200, 255, 50, 0]);
        var image = PngCodec.Decode(png).Image;
        Assert.Equal(((byte)200, (byte)200, (byte)200), image[0, 0]);
        Assert.Equal(((byte)50, (byte)50, (byte)50), image[1, 0]);
        Assert.Equal(((byte)255, (byte)255, (byte)255), PngCodec.Decode(png, overWhite: true).Image[1, 0]);
    }

    [Fact]
    public void Write_goes_through_a_temporary_file_and_reads_back_every_byte()
    {
        var image = Gradient(17, 5);
        string folder = Directory.CreateTempSubdirectory("png-write-").FullName;
        try
        {
            string path = Path.Combine(folder, "a.png");
            PngCodec.Write(image, path, [new("parameters", "a red circle")]);
            Assert.Equal(["a.png"], Directory.GetFiles(folder).Select(Path.GetFileName));
            Assert.Equal(image.Pixels, PngCodec.Read(path).Pixels);
            Assert.Equal("a red circle", PngCodec.Decode(File.ReadAllBytes(path)).Text["parameters"]);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
