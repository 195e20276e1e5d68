#:project ../../host/FineRewards.Contracts/FineRewards.Contracts.csproj
// Pixel statistics of Shapes images against the world's palette (docs/experiments.md section 1a'''):
//   dotnet run experiments/tools/palette-stats.cs -- LABEL IMAGE.png...
// bg_dev: mean RGB distance of near-white pixels from white; obj_colour_err: mean distance of object pixels (within 60
// of a palette colour) to that colour; other_px: pixels that are neither (soft edges, off-palette blends), per image.
using FineRewards.Contracts.IO;

(int R, int G, int B)[] palette = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (240, 200, 30), (150, 50, 190)];
static double Distance(int r, int g, int b, (int R, int G, int B) c) => Math.Sqrt((r - c.R) * (r - c.R) + (g - c.G) * (g - c.G) + (b - c.B) * (b - c.B));
if (args.Length < 2) { Console.Error.WriteLine("usage: palette-stats.cs LABEL IMAGE.png..."); return 2; }
double background = 0, backgroundPixels = 0, colourError = 0, objectPixels = 0, other = 0;
int images = 0;
foreach (var file in args.Skip(1))
{
    var image = PngCodec.Read(file);
    images++;
    for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        {
            var (r, g, b) = image[x, y];
            double white = Distance(r, g, b, (255, 255, 255));
            double nearest = palette.Min(c => Distance(r, g, b, c));
            if (white < 40) { background += white; backgroundPixels++; }
            else if (nearest < 60) { colourError += nearest; objectPixels++; }
            else other++;
        }
}
Console.WriteLine($"{args[0],-14} n={images,4} bg_dev={background / backgroundPixels,5:F2} obj_colour_err={colourError / objectPixels,5:F1} obj_px/img={objectPixels / images,6:F1} other_px/img={other / images,6:F1}");
return 0;
