using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Contracts;
using FineRewards.Protocol.V1;
using HostLimits = FineRewards.Server.Jobs.HostLimits;
using FineRewards.Server.Storage;
using Grpc.Core;

namespace FineRewards.Server.Tests;

public class ImageTests
{
    static byte[] NoisePng(int size, int seed)
    {
        var pixels = new byte[size * size * 3];
        new Random(seed).NextBytes(pixels); // incompressible: the PNG is about as large as the pixels
        return PngCodec.Encode(new RgbImage(size, size, pixels), [new("parameters", "noise")]);
    }

    [Fact]
    public async Task Put_has_get_round_trip_in_chunks_below_one_mebibyte()
    {
        await using var host = await TestHost.StartAsync();
        byte[] png = NoisePng(600, 1); // ~1.08 MB: larger than one message may be
        Assert.True(png.Length > 1 << 20);
        string id = ImageStore.IdOf(png);

        var before = await host.Images.HasImagesAsync(new HasImagesRequest { ImageIds = { id } });
        Assert.Equal([id], before.Missing);

        var put = await host.PutImageAsync(png, expected: id, chunk: 512 * 1024);
        Assert.Equal(id, put.ImageId);
        Assert.Equal((600, 600), (put.Width, put.Height));
        Assert.False(put.Existing);
        Assert.True((await host.PutImageAsync(png)).Existing);

        var after = await host.Images.HasImagesAsync(new HasImagesRequest { ImageIds = { id, ImageStore.IdOf([1, 2, 3]) } });
        Assert.Equal([id], after.Present);
        Assert.Single(after.Missing);

        using var call = host.Images.GetImage(new GetImageRequest { ImageId = id });
        var chunks = new List<GetImageResponse>();
        await foreach (var c in call.ResponseStream.ReadAllAsync()) chunks.Add(c);
        Assert.True(chunks.Count >= 5);
        Assert.All(chunks, c => Assert.True(c.CalculateSize() < 1 << 20));
        Assert.Equal(png.Length, chunks[0].TotalBytes);
        Assert.Equal(png, chunks.SelectMany(c => c.Data.ToByteArray()).ToArray());
    }

    [Fact]
    public async Task A_corrupt_upload_is_refused_and_not_stored()
    {
        await using var host = await TestHost.StartAsync();
        byte[] png = NoisePng(32, 2);
        png[png.Length / 2] ^= 0x5A; // flip bits inside the image data: the chunk CRC no longer matches
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.PutImageAsync(png));
        Assert.Equal("data", field);
        Assert.Contains("CRC", message);
        Assert.Empty((await host.Images.HasImagesAsync(new HasImagesRequest { ImageIds = { ImageStore.IdOf(png) } })).Present);

        (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.PutImageAsync("GIF89a not a png"u8.ToArray()));
        Assert.Contains("not a PNG", message);
    }

    [Fact]
    public async Task A_damaged_transfer_is_caught_by_the_expected_hash()
    {
        await using var host = await TestHost.StartAsync();
        byte[] png = NoisePng(16, 3);
        var (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.PutImageAsync(png, expected: ImageStore.IdOf(NoisePng(16, 4))));
        Assert.Equal("expected_image_id", field);
    }

    [Fact]
    public async Task Uploads_over_the_limit_are_refused()
    {
        await using var host = await TestHost.StartAsync(limits: new HostLimits(MaxUploadBytes: 10_000));
        var (field, message) = await RpcAssert.Fails(StatusCode.ResourceExhausted, () => host.PutImageAsync(NoisePng(100, 5), chunk: 4096));
        Assert.Equal("data", field);
        Assert.Contains("10000 bytes", message);
        Assert.False((await host.PutImageAsync(NoisePng(8, 6))).Existing); // small ones still go through
    }

    [Fact]
    public async Task A_png_declaring_more_pixels_than_the_limit_is_refused_from_its_header()
    {
        await using var host = await TestHost.StartAsync();
        // An 8x8 PNG whose IHDR says 16000x16000: 256 Mpx, ~1 GB decoded, from a few hundred bytes.
        byte[] png = NoisePng(8, 8);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 16000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 16000);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var (field, message) = await RpcAssert.Fails(StatusCode.ResourceExhausted, () => host.PutImageAsync(png));
        Assert.Equal("data", field);
        Assert.Equal($"data: PNG of 16000x16000 pixels exceeds the host's limit of {new HostLimits().MaxImagePixels} pixels", message);
        // Refused before decoding (the CRC of the patched IHDR is not even checked): nothing near the decoded size was allocated.
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 400L << 20);

        var capabilities = await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
        Assert.Equal(4096L * 4096, capabilities.Limits.MaxImagePixels);
    }

    [Fact]
    public async Task A_single_message_over_one_mebibyte_is_refused()
    {
        await using var host = await TestHost.StartAsync();
        byte[] png = NoisePng(600, 7);
        var e = await Assert.ThrowsAsync<RpcException>(() => host.PutImageAsync(png, chunk: png.Length));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
    }

    [Fact]
    public async Task Unknown_and_malformed_image_ids()
    {
        await using var host = await TestHost.StartAsync();
        var (field, _) = await RpcAssert.Fails(StatusCode.NotFound, () => host.GetImageAsync(ImageStore.IdOf([9])));
        Assert.Equal("image_id", field);
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => host.GetImageAsync("../../host.db"));
        Assert.Equal("image_id", field);
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument,
            async () => await host.Images.HasImagesAsync(new HasImagesRequest { ImageIds = { ImageStore.IdOf([1]), "XYZ" } }));
        Assert.Equal("image_ids[1]", field);
    }
}
