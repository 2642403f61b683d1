using Appliance.Contracts;

namespace Appliance.Benchmarks.Meetings;

/// <summary>The models on the daemon's status (<c>status.get</c>), each with its feature and state.</summary>
internal static class DaemonModels
{
    /// <summary>The status's model list now; empty when the call fails or the status has none yet.</summary>
    public static async Task<IReadOnlyList<StatusModel>> ReadAsync(ApplianceClient client, CancellationToken cancellationToken)
    {
        try
        {
            var status = await client.InvokeAsync(RpcMethods.StatusGet, EmptyParams.Instance, cancellationToken: cancellationToken).ConfigureAwait(false);
            return status.Value?.Models ?? [];
        }
        catch (TimeoutException)
        {
            return [];
        }
    }

    /// <summary>
    /// Waits until every feature in <paramref name="features"/> is on the status in a settled state (not loading).
    /// </summary>
    /// <returns>The settled models of those features.</returns>
    /// <exception cref="TimeoutException">Some feature did not settle within <paramref name="limit"/>.</exception>
    public static async Task<IReadOnlyList<StatusModel>> WaitSettledAsync(ApplianceClient client, IReadOnlyCollection<string> features, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var models = await ReadAsync(client, cancellationToken).ConfigureAwait(false);
            var settled = models.Where(m => features.Contains(m.Feature) && m.State != "loading").ToList();
            if (features.All(f => settled.Any(m => m.Feature == f)))
            {
                return settled;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The daemon's models did not finish loading within {limit.TotalSeconds:0} s: {string.Join(", ", models.Select(m => $"{m.Feature} {m.Id} {m.State}"))}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }
}
