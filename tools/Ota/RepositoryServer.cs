using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.OtaTool;

/// <summary>
/// A static HTTP server for a repository folder, for workshops and tests: GET and HEAD of the files under the folder,
/// with single range requests (<c>Range: bytes=N-</c> or <c>bytes=N-M</c>, RFC 9110 §14) so that an interrupted
/// download resumes; no listings, no uploads. Built on the runtime's <see cref="HttpListener"/>. Dispose it to stop.
/// </summary>
internal sealed class RepositoryServer : IAsyncDisposable
{
    private const int PortAttempts = 20;
    private readonly HttpListener _listener;
    private readonly string _root;
    private readonly Func<HttpListenerContext, Func<Stream?, Task>, Task>? _before;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    private RepositoryServer(HttpListener listener, string root, Uri address, Func<HttpListenerContext, Func<Stream?, Task>, Task>? before)
    {
        _listener = listener;
        _root = root;
        _before = before;
        Address = address;
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The base address that devices take as their repository, ending in a slash (the host name for a wildcard bind).</summary>
    public Uri Address { get; }

    /// <summary>Starts serving <paramref name="folder"/> on <paramref name="bind"/>:<paramref name="port"/> (0: a free port).</summary>
    /// <param name="folder">The repository folder.</param>
    /// <param name="bind">The address to listen on, for example 127.0.0.1.</param>
    /// <param name="port">The TCP port, or 0.</param>
    /// <param name="before">
    /// Runs for every request before the file is served, for tests and campaigns that play a bad or slow mirror: it
    /// answers itself, or calls the second argument to serve the file, into the given stream or (null) the response.
    /// </param>
    /// <exception cref="HttpListenerException">The address cannot be listened on.</exception>
    public static Task<RepositoryServer> StartAsync(string folder, IPAddress bind, int port, Func<HttpListenerContext, Func<Stream?, Task>, Task>? before)
    {
        var root = Path.GetFullPath(folder);
        for (var attempt = 1; ; attempt++)
        {
            var chosen = port != 0 ? port : FreePort(bind);
            var listener = new HttpListener();
            var number = chosen.ToString(CultureInfo.InvariantCulture);

            // HttpListener takes only requests addressed to its prefix's host: a wildcard bind answers every address (+).
            var wildcard = bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any);
            var host = wildcard ? Dns.GetHostName() : bind.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{bind}]" : bind.ToString();
            var address = new Uri($"http://{host}:{number}/");
            listener.Prefixes.Add(wildcard ? $"http://+:{number}/" : address.AbsoluteUri);
            if (IPAddress.IsLoopback(bind))
            {
                listener.Prefixes.Add($"http://localhost:{number}/");
            }
            try
            {
                listener.Start();
                return Task.FromResult(new RepositoryServer(listener, root, address, before));
            }
            catch (HttpListenerException) when (port == 0 && attempt < PortAttempts)
            {
                listener.Close();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Close();
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static int FreePort(IPAddress bind)
    {
        using var probe = new TcpListener(bind, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        var running = new List<Task>();
        while (!_stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }

            running.RemoveAll(t => t.IsCompleted);
            running.Add(HandleAsync(context));
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            if (_before is { } before)
            {
                await before(context, body => ServeFileAsync(context, body)).ConfigureAwait(false);
            }
            else
            {
                await ServeFileAsync(context, null).ConfigureAwait(false);
            }

            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The client went away, or a test cut the connection: nothing to answer.
            context.Response.Abort();
        }
    }

    private async Task ServeFileAsync(HttpListenerContext context, Stream? body)
    {
        var request = context.Request;
        var response = context.Response;
        var relative = Uri.UnescapeDataString(request.Url!.AbsolutePath).TrimStart('/');
        var path = Path.GetFullPath(Path.Combine(_root, relative));
        if (request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
            return;
        }

        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path))
        {
            response.StatusCode = (int)HttpStatusCode.NotFound;
            return;
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            var length = file.Length;
            long from = 0, to = length - 1;
            response.ContentType = "application/octet-stream";
            response.AddHeader("Accept-Ranges", "bytes");
            if (request.Headers["Range"] is { } range && TryRange(range, length, out var start, out var end))
            {
                if (start >= length)
                {
                    response.StatusCode = (int)HttpStatusCode.RequestedRangeNotSatisfiable;
                    response.AddHeader("Content-Range", $"bytes */{length.ToString(CultureInfo.InvariantCulture)}");
                    return;
                }

                (from, to) = (start, Math.Min(end, length - 1));
                response.StatusCode = (int)HttpStatusCode.PartialContent;
                response.AddHeader("Content-Range", string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to}/{length}"));
            }

            response.ContentLength64 = to - from + 1;
            if (request.HttpMethod == "HEAD")
            {
                return;
            }

            file.Position = from;
            var output = body ?? response.OutputStream;
            var buffer = new byte[64 * 1024];
            for (var left = to - from + 1; left > 0;)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), _stopping.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await output.WriteAsync(buffer.AsMemory(0, read), _stopping.Token).ConfigureAwait(false);
                left -= read;
            }
        }
    }

    /// <summary>Parses one range <c>bytes=N-</c> or <c>bytes=N-M</c>; anything else is served whole.</summary>
    private static bool TryRange(string header, long length, out long start, out long end)
    {
        start = 0;
        end = length - 1;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }

        var parts = header["bytes=".Length..].Split('-');
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out start))
        {
            return false;
        }

        if (parts[1].Length > 0 && (!long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out end) || end < start))
        {
            return false;
        }

        return true;
    }
}
