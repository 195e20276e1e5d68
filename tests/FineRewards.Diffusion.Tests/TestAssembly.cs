// TorchSharp's default device is process-wide and the architecture tests switch it to "meta"
// while they build; running test classes in parallel could then build another test's model on meta.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
