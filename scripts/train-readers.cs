#:project ../host/FineRewards.ShapesPack/FineRewards.ShapesPack.csproj
#:property PublishAot=false
// Drives the Shapes pack's reader trainers until `finerewards pack train shapes --component NAME` (branch
// `pack`) is merged: dotnet run scripts/train-readers.cs -- COMPONENT MINUTES [STEPS] [--resume] [--pack DIR]
// Trains on one libtorch thread so the machine's other training keeps its cores.
using FineRewards.ShapesPack;
using FineRewards.ShapesPack.Training;

string component = args[0];
double minutes = double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
long? steps = args.Length > 2 && long.TryParse(args[2], out long s) ? s : null;
bool resume = args.Contains("--resume");
int packAt = Array.IndexOf(args, "--pack");
string pack = packAt >= 0 ? args[packAt + 1] : ShapesPackInfo.SourceFolder() ?? throw new InvalidOperationException("run inside the checkout");
TorchSharp.torch.set_num_threads(1);
Directory.CreateDirectory(pack);
var context = new PackTrainContext(pack, Path.GetFullPath(Path.Combine(pack, "..", "..", "runs", "readers-work")), 1234, minutes, steps, resume,
    steps is long n ? $"scripts/train-readers.sh {component} {n}" : $"dotnet run scripts/train-readers.cs -- {component} {minutes}", line => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}"));
var record = ShapesPackTrainers.Find(component).Train(context);
Console.WriteLine($"done: {record.Training?.Steps} steps, {record.Training?.Minutes} min, metrics: {string.Join(", ", record.Training?.Metrics ?? new Dictionary<string, double>())}");
