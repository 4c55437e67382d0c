// The tests stop, trace and patch real processes on a 2-core machine: one at a time keeps
// their timing honest and their failures readable.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
