// Every test here runs a benchmark or a fault campaign: real daemons, brokers and engine processes loaded on purpose.
// Run side by side on the two cores of a CI machine they starve each other (in one CI run a soak request waited more
// than the client's 10 s for its PUBACK while another campaign ran beside it), and every figure they check would then
// measure the neighbour as well. So they run one at a time, as benchmarks must.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
