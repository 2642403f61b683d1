using Appliance.Benchmarks;

return await BenchmarkCli.InvokeAsync(args).ConfigureAwait(false);
