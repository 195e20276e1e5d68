using FineRewards.Core.IO;
using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using FineRewards.Core;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using Google.Protobuf;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class ImageGrpcService(ImageStore images, HostOptions options) : Api.ImageService.ImageServiceBase
{
    /// <summary>Well under the 1 MiB message limit, with room for the envelope.</summary>
    public const int ChunkBytes = 256 * 1024;
    public const int MaxHasImagesIds = 1000;

    public override async Task GetImage(Api.GetImageRequest request, IServerStreamWriter<Api.GetImageResponse> responseStream, ServerCallContext context)
    {
        ImageStore.RequireValidId(request.ImageId, "image_id");
        await using var file = images.Open(request.ImageId)
            ?? throw new HostException(RefusalKind.NotFound, "image_id", $"the host has no image {request.ImageId}");
        var buffer = new byte[ChunkBytes];
        bool first = true;
        int read;
        while ((read = await file.ReadAsync(buffer, context.CancellationToken)) > 0 || first)
        {
            await responseStream.WriteAsync(new Api.GetImageResponse
            {
                TotalBytes = first ? file.Length : 0,
                Data = ByteString.CopyFrom(buffer, 0, read),
            }, context.CancellationToken);
            first = false;
        }
    }

    public override async Task<Api.PutImageResponse> PutImage(IAsyncStreamReader<Api.PutImageRequest> requestStream, ServerCallContext context)
    {
        long max = options.Limits.MaxUploadBytes;
        using var data = new MemoryStream();
        string expected = "";
        bool first = true;
        await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
        {
            if (first) expected = chunk.ExpectedImageId;
            else if (chunk.ExpectedImageId.Length > 0) throw new InputException("expected_image_id", "only the first message may carry it");
            first = false;
            if (data.Length + chunk.Data.Length > max)
                throw new HostException(RefusalKind.ResourceExhausted, "data", $"upload exceeds the host's limit of {max} bytes");
            bool sized = data.Length >= PngCodec.SizeHeaderBytes;
            chunk.Data.WriteTo(data);
            // Refused from the header, as soon as it has arrived: a tiny PNG can declare pixels that decode to gigabytes.
            if (!sized && data.Length >= PngCodec.SizeHeaderBytes) RequireDecodable(data.GetBuffer().AsSpan(0, PngCodec.SizeHeaderBytes));
        }
        if (data.Length == 0) throw new InputException("data", "empty upload; send the PNG's bytes");
        if (expected.Length > 0) ImageStore.RequireValidId(expected, "expected_image_id");

        byte[] bytes = data.ToArray();
        var decoded = PngCodec.Decode(bytes, "data");
        string id = ImageStore.IdOf(bytes);
        if (expected.Length > 0 && expected != id)
            throw new InputException("expected_image_id", $"the bytes received hash to {id}, not {expected}: the upload was damaged or incomplete");
        var (_, existing) = images.Put(bytes);
        return new Api.PutImageResponse { ImageId = id, Width = decoded.Image.Width, Height = decoded.Image.Height, Existing = existing };
    }

    void RequireDecodable(ReadOnlySpan<byte> header)
    {
        var (width, height) = PngCodec.ReadSize(header, "data");
        long max = options.Limits.MaxImagePixels;
        if ((long)width * height > max)
            throw new HostException(RefusalKind.ResourceExhausted, "data", $"PNG of {width}x{height} pixels exceeds the host's limit of {max} pixels");
    }

    public override Task<Api.HasImagesResponse> HasImages(Api.HasImagesRequest request, ServerCallContext context)
    {
        if (request.ImageIds.Count > MaxHasImagesIds)
            throw new InputException("image_ids", $"{request.ImageIds.Count} ids; ask about at most {MaxHasImagesIds} at a time");
        var response = new Api.HasImagesResponse();
        for (int i = 0; i < request.ImageIds.Count; i++)
        {
            ImageStore.RequireValidId(request.ImageIds[i], $"image_ids[{i}]");
            (images.Has(request.ImageIds[i]) ? response.Present : response.Missing).Add(request.ImageIds[i]);
        }
        return Task.FromResult(response);
    }
}
